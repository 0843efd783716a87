/* A model's keys, each written once. A model lists its keys in one X-macro,
 *
 *   #define LS_KEYS(X)                                                              \
 *     X(INT, fixed, n_pyr, 1, LS_POP_MAX, 320, "Pyr cells per layer and assembly")  \
 *     X(REAL, model, tau_m, AP_POS, 10.0, "membrane time constant (ms)")            \
 *     ...
 *
 * and that one list makes the parameter struct's members (AP_KEY_MEMBER, in *_params.h),
 * the key table the host reads (AP_KEY_ROW, in *_model.c, with AP_KEY_STRUCT naming the
 * struct) and the defaults (AP_KEY_DEFAULT, assigning p->member). The member is the key's
 * name unless the kind says otherwise (CHOICE_AS).
 *
 * Sections: model (sweepable), fixed ([model], one value per experiment), train ([train],
 * the schedule: one value per experiment). Kinds and their arguments after the section:
 *
 *   INT(name, lo, hi, def, help)             int in [lo, hi]
 *   U64(name, lo, hi, def, help)             uint64_t
 *   REAL(name, lo, hi, open, def, help)      double in [lo, hi] (open: lo itself refused)
 *   BOOL(name, def, help)                    int, 0 or 1
 *   CHOICE(name, choices, def, help)         int: the index into "a|b|c"
 *   CHOICE_AS(key, name, choices, def, help) the same, for a member not named as its key
 *   INTS(name, count, lo, hi, min_len, max_len, (def...), help)
 *                                            int name[max_len], its length in int count
 *   REALS(name, lo, hi, max_len, len, what, (def...), help)
 *                                            double name[max_len], len(params) long
 *
 * A list's defaults are in parentheses; REAL's lo, hi, open may be one of the ranges
 * below. A model may add kinds of its own (AP_KEY_MEMBER_<KIND>, AP_KEY_ROW_<KIND>,
 * AP_KEY_DEFAULT_<KIND>) for keys that are not one member. */
#ifndef AP_MODEL_KEYS_H
#define AP_MODEL_KEYS_H

#include "model.h"

#include <stddef.h> /* offsetof */
#include <stdint.h>
#include <string.h> /* memcpy */

#define AP_BIG 1e300
/* lo, hi, open of a REAL */
#define AP_ANY -AP_BIG, AP_BIG, 0 /* any number */
#define AP_NONNEG 0, AP_BIG, 0    /* >= 0 */
#define AP_POS 0, AP_BIG, 1       /* > 0 */
#define AP_UNIT 0, 1, 0           /* in [0, 1] */

#define AP_KEY_SEC_model .section = "model", .flags = 0
#define AP_KEY_SEC_fixed .section = "model", .flags = AP_KEY_FIXED
#define AP_KEY_SEC_train .section = "train", .flags = AP_KEY_FIXED

#define AP_KEY_UNPAREN(...) __VA_ARGS__

/* ---- the struct's members ---------------------------------------------------------- */

#define AP_KEY_MEMBER(kind, ...) AP_KEY_MEMBER_##kind(__VA_ARGS__)
#define AP_KEY_MEMBER_INT(sec, nm, ...) int nm;
#define AP_KEY_MEMBER_U64(sec, nm, ...) uint64_t nm;
#define AP_KEY_MEMBER_REAL(sec, nm, ...) double nm;
#define AP_KEY_MEMBER_BOOL(sec, nm, ...) int nm;
#define AP_KEY_MEMBER_CHOICE(sec, nm, ...) int nm;
#define AP_KEY_MEMBER_CHOICE_AS(sec, key, nm, ...) int nm;
#define AP_KEY_MEMBER_INTS(sec, nm, count, lo, hi, min_len, max_len, ...)                          \
  int count;                                                                                       \
  int nm[max_len];
#define AP_KEY_MEMBER_REALS(sec, nm, lo, hi, max_len, ...) double nm[max_len];

/* ---- the key table's rows (AP_KEY_STRUCT: the parameter struct) -------------------- */

#define AP_KEY_ROW(kind, ...) AP_KEY_ROW_##kind(__VA_ARGS__)
#define AP_KEY_AT(nm) .name = #nm, .offset = offsetof(AP_KEY_STRUCT, nm)
#define AP_KEY_ROW_INT(sec, nm, lo, hi, def, text)                                                 \
  {AP_KEY_SEC_##sec, AP_KEY_AT(nm), .type = AP_KEY_INT, .min = lo, .max = hi, .help = text},
#define AP_KEY_ROW_U64(sec, nm, lo, hi, def, text)                                                 \
  {AP_KEY_SEC_##sec, AP_KEY_AT(nm), .type = AP_KEY_U64, .min = lo, .max = hi, .help = text},
#define AP_KEY_ROW_REAL(sec, nm, lo, hi, open, def, text)                                          \
  AP_KEY_REAL_AT(sec, #nm, offsetof(AP_KEY_STRUCT, nm), lo, hi, open, text)
/* A REAL row of a key that is not a member of its own (an array's item); lo, hi, open
 * may be a range. */
#define AP_KEY_REAL_AT(...) AP_KEY_REAL_AT_(__VA_ARGS__)
#define AP_KEY_REAL_AT_(sec, key, off, lo, hi, open, text)                                         \
  {AP_KEY_SEC_##sec, .name = key, .offset = off,    .type = AP_KEY_REAL,                           \
   .min = lo,        .max = hi,   .min_open = open, .help = text},
#define AP_KEY_ROW_BOOL(sec, nm, def, text)                                                        \
  {AP_KEY_SEC_##sec, AP_KEY_AT(nm), .type = AP_KEY_BOOL, .min = 0, .max = 1, .help = text},
#define AP_KEY_ROW_CHOICE(sec, nm, list, def, text)                                                \
  {AP_KEY_SEC_##sec, AP_KEY_AT(nm), .type = AP_KEY_CHOICE, .choices = list, .help = text},
#define AP_KEY_ROW_CHOICE_AS(sec, key, nm, list, def, text)                                        \
  {AP_KEY_SEC_##sec,      .name = key,     .offset = offsetof(AP_KEY_STRUCT, nm),                  \
   .type = AP_KEY_CHOICE, .choices = list, .help = text},
#define AP_KEY_ROW_INTS(sec, nm, count, lo, hi, minl, maxl, def, text)                             \
  {AP_KEY_SEC_##sec,    AP_KEY_AT(nm),                                                             \
   .type = AP_KEY_INTS, .min = lo,                                                                 \
   .max = hi,           .min_len = minl,                                                           \
   .max_len = maxl,     .count_offset = offsetof(AP_KEY_STRUCT, count),                            \
   .help = text},
#define AP_KEY_ROW_REALS(sec, nm, lo, hi, maxl, lenfn, what, def, text)                            \
  {AP_KEY_SEC_##sec, AP_KEY_AT(nm), .type = AP_KEY_REALS, .min = lo,   .max = hi,                  \
   .max_len = maxl,  .len = lenfn,  .len_what = what,     .help = text},

/* ---- the defaults (p: the parameter struct, zeroed first) -------------------------- */

#define AP_KEY_DEFAULT(kind, ...) AP_KEY_DEFAULT_##kind(__VA_ARGS__)
#define AP_KEY_DEFAULT_INT(sec, nm, lo, hi, def, text) p->nm = def;
#define AP_KEY_DEFAULT_U64(sec, nm, lo, hi, def, text) p->nm = def;
#define AP_KEY_DEFAULT_REAL(sec, nm, lo, hi, open, def, text) p->nm = def;
#define AP_KEY_DEFAULT_BOOL(sec, nm, def, text) p->nm = def;
#define AP_KEY_DEFAULT_CHOICE(sec, nm, list, def, text) p->nm = def;
#define AP_KEY_DEFAULT_CHOICE_AS(sec, key, nm, list, def, text) p->nm = def;
#define AP_KEY_DEFAULT_INTS(sec, nm, count, lo, hi, minl, maxl, def, text)                         \
  {                                                                                                \
    static const int d_[] = {AP_KEY_UNPAREN def};                                                  \
    _Static_assert(sizeof d_ <= sizeof p->nm, #nm ": too many defaults");                          \
    memcpy(p->nm, d_, sizeof d_);                                                                  \
    p->count = (int)(sizeof d_ / sizeof d_[0]);                                                    \
  }
#define AP_KEY_DEFAULT_REALS(sec, nm, lo, hi, maxl, lenfn, what, def, text)                        \
  {                                                                                                \
    static const double d_[] = {AP_KEY_UNPAREN def};                                               \
    _Static_assert(sizeof d_ <= sizeof p->nm, #nm ": too many defaults");                          \
    memcpy(p->nm, d_, sizeof d_);                                                                  \
  }

#endif
