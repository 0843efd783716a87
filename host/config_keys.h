/* What the experiment-file code (config_*.c, sweep_expand.c) shares: the host's keys and
 * the sections, finding any key (the host's or the model's), and a key's value read from
 * text into its field and written back. host/config.h is the public face. */
#ifndef AP_CONFIG_KEYS_H
#define AP_CONFIG_KEYS_H

#include "host/config.h"

#include <stddef.h>

#define CONFIG_BIG 1e300 /* a key's max at or above it: no upper bound */

/* The host's keys ([experiment], [data], [train] epochs, [output]); the model's come from
 * its key table. */
extern const ApKey config_host_keys[];
extern const int config_n_host_keys;
/* The sections of keys, in the order of the dump. */
extern const char *const config_sections[];
#define CONFIG_N_SECTIONS 5

/* The host's defaults (those config_print_keys shows) into ex. */
void config_host_defaults(ApExperiment *ex);
/* Whether dataset reads [data] key. */
int config_data_key_used(const char *dataset, const char *key);
/* [sweep] or [sweep.NAME] */
int config_is_sweep_section(const char *s);

typedef struct KeyRef {
  const ApKey *k;
  int host; /* the value lives in the ApExperiment, else in a parameter block */
} KeyRef;

/* The host's key section.name, else model m's (m may be NULL); k NULL where neither has it. */
KeyRef key_find(const ApModel *m, const char *section, const char *name);
/* Where r's value lives: ex for a host key, else the parameter block. */
void *key_target(KeyRef r, ApExperiment *ex, void *params);
/* The key's type as the help and the messages name it. */
const char *key_type_name(const ApKey *k);
/* Size of the bytes a key's value occupies in its target. */
size_t key_size(const ApKey *k);

/* s without leading and trailing white space (cut in place). */
char *key_strip(char *s);
/* v against k's range; the message quotes text and names origin. */
ap_status key_range_check(const ApKey *k, double v, const char *origin, const char *text,
                          ApError *err);
/* Splits "a, b, [c, d], f(e, g)" at top-level commas, in place; items (when non-NULL) gets
 * the stripped items. Returns their count. */
int key_split_items(char *s, char **items);
/* Sets key k of target (an ApExperiment or a parameter block) from text; origin
 * (FILE:LINE or --set) for the messages. */
ap_status key_apply(const ApKey *k, const char *text, void *target, const char *origin,
                    ApError *err);
/* The shortest %g form that reads back as the same double. */
void key_fmt_double(char *out, size_t n, double v);
/* Key k's value in target as a file would give it. */
void key_format(const ApKey *k, const void *target, char *out, size_t n);

#endif
