/* Sweep items that stand for many numbers: see sweep.h, and docs/experiment-files.md for
 * the definition of every value.
 *
 * Everything here is IEEE-754 double arithmetic whose every rounding the source fixes
 * (the build passes -ffp-contract=off): +, -, *, /, fma, floor, frexp and ldexp, which give
 * the same bits on every machine. e^x and ln x are not the C library's, whose last bit varies
 * between libraries and CPUs: they are evaluated in double-double arithmetic (about 90
 * correct bits) and rounded once. */
#include "sweep.h"

#include "kernels/core/ap_rng.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- double-double arithmetic: the number hi + lo, |lo| <= ulp(hi) / 2 ------------------ */

typedef struct Dd {
  double hi, lo;
} Dd;

static const Dd LN2 = {0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56};
static const Dd LN10 = {0x1.26bb1bbb55516p+1, -0x1.f48ad494ea3e9p-53};

/* a + b exactly, for |a| >= |b| (or a = 0) */
static Dd dd_fast(double a, double b) {
  double s = a + b;
  return (Dd){s, b - (s - a)};
}

/* a + b exactly, any a and b */
static Dd dd_sum(double a, double b) {
  double s = a + b, v = s - a;
  return (Dd){s, (a - (s - v)) + (b - v)};
}

static Dd dd_add(Dd x, Dd y) {
  Dd s = dd_sum(x.hi, y.hi), t = dd_sum(x.lo, y.lo);
  s = dd_sum(s.hi, s.lo + t.hi);
  return dd_fast(s.hi, s.lo + t.lo);
}

static Dd dd_neg(Dd x) { return (Dd){-x.hi, -x.lo}; }

static Dd dd_mul(Dd x, Dd y) {
  double p = x.hi * y.hi, e = fma(x.hi, y.hi, -p); /* p + e = x.hi y.hi exactly */
  return dd_fast(p, e + (x.hi * y.lo + x.lo * y.hi));
}

static Dd dd_mul_d(Dd x, double y) { return dd_mul(x, (Dd){y, 0.0}); }

static Dd dd_div_d(Dd x, double d) {
  double q = x.hi / d, p = q * d, e = fma(q, d, -p);
  return dd_fast(q, (((x.hi - p) - e) + x.lo) / d);
}

/* e^x: x = k ln2 + r with |r| <= ln2/2, e^r = (e^(r/256))^256 and e^(r/256) from eleven
 * terms of its Taylor series (the twelfth is below 2^-140). */
static Dd dd_exp(Dd x) {
  if (x.hi > 709.8) return (Dd){INFINITY, 0.0};
  if (x.hi < -746.0) return (Dd){0.0, 0.0};
  double k = floor(x.hi * 0x1.71547652b82fep+0 + 0.5);
  Dd r = dd_add(x, dd_neg(dd_mul_d(LN2, k)));
  r = (Dd){ldexp(r.hi, -8), ldexp(r.lo, -8)};
  Dd p = {1.0, 0.0}; /* Horner: 1 + r(1 + r/2(1 + r/3(...))) */
  for (int j = 11; j >= 1; j--) p = dd_add((Dd){1.0, 0.0}, dd_div_d(dd_mul(r, p), j));
  for (int j = 0; j < 8; j++) p = dd_mul(p, p);
  return (Dd){ldexp(p.hi, (int)k), ldexp(p.lo, (int)k)};
}

/* ln a for finite a > 0: a = m 2^e with m in [sqrt(1/2), sqrt(2)), and ln m by Newton's
 * method on e^y = m from y = m - 1, whose error (at most 0.06) squares with each step: six
 * steps leave the double-double's own rounding. */
static Dd dd_log(double a) {
  int e;
  double m = frexp(a, &e);
  if (m < 0x1.6a09e667f3bcdp-1) m *= 2.0, e--;
  Dd y = {m - 1.0, 0.0};
  for (int i = 0; i < 6; i++)
    y = dd_add(y, dd_add(dd_mul_d(dd_exp(dd_neg(y)), m), (Dd){-1.0, 0.0}));
  return dd_add(dd_mul_d(LN2, (double)e), y);
}

double sweep_exp10(double y) { return dd_exp(dd_mul_d(LN10, y)).hi; }

/* ---- the random draws ------------------------------------------------------------------ */

static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
  return h;
}

/* Draw i of the stream (key's hash h, seed): the 64-bit integer x = word 2i+1 << 32 | word
 * 2i of the words ap_rng_u32 numbers, i.e. block (AP_RNG_SWEEP, h low, h high, i/2),
 * words 0 and 1 (i even) or 2 and 3; u = (x >> 11) 2^-53 in [0, 1), exact. */
static double draw_u(uint64_t seed, uint64_t h, uint32_t i) {
  uint32_t lo = (uint32_t)h, hi = (uint32_t)(h >> 32);
  uint64_t x = (uint64_t)ap_rng_u32(seed, AP_RNG_SWEEP, lo, hi, 2 * i + 1) << 32 |
               ap_rng_u32(seed, AP_RNG_SWEEP, lo, hi, 2 * i);
  return (double)(x >> 11) * 0x1p-53;
}

/* ---- parsing ----------------------------------------------------------------------------- */

static char *strip(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

SweepForm sweep_form(const char *item) {
  const char *p = item;
  while (isspace((unsigned char)*p)) p++;
  if (isalpha((unsigned char)*p)) {
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '(') return SWEEP_CALL;
  }
  const char *dots = strstr(item, "..");
  if (!dots) return SWEEP_VALUE;
  return strstr(dots + 2, "step") ? SWEEP_STEP_RANGE : SWEEP_RANGE;
}

/* s (stripped) as a whole number; 0 if it is not one */
static int number(char *s, double *out) {
  char *end;
  s = strip(s);
  errno = 0;
  *out = strtod(s, &end);
  return *s && !*end && errno != ERANGE;
}

/* a..b step s: n = floor((b - a)/s + 1e-9) + 1 values a + i s, the last one b itself when
 * it lies within 1e-9 steps of b. */
static ap_status step_range(char *buf, const char *item, const char *key, const char *origin,
                            double **values, int *n, ApError *err) {
  char *dots = strstr(buf, ".."), *step = strstr(dots + 2, "step");
  double a, b, s;
  *dots = *step = '\0';
  if (!number(buf, &a) || !number(dots + 2, &b) || !number(step + 4, &s))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: bad range '%.64s' (expected a..b step s)", origin,
                   key, item);
  if (!isfinite(a) || !isfinite(b) || !isfinite(s))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: range '%.64s': a non-finite number", origin, key,
                   item);
  if (s == 0.0)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: range '%.64s' has step 0", origin, key, item);
  double q = (b - a) / s + 1e-9;
  if (!(q >= 0.0))
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s: empty range '%.64s' (the step leads away from the end)", origin, key,
                   item);
  if (q >= SWEEP_MAX_VALUES)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: range '%.64s' has more than %d values", origin, key,
                   item, SWEEP_MAX_VALUES);
  *n = (int)floor(q) + 1;
  if (!(*values = malloc((size_t)*n * sizeof **values)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int i = 0; i < *n; i++) (*values)[i] = a + (double)i * s;
  if (fabs((*values)[*n - 1] - b) <= 1e-9 * fabs(s)) (*values)[*n - 1] = b;
  return AP_OK;
}

typedef enum { F_LINSPACE, F_LOGSPACE, F_UNIFORM, F_LOGUNIFORM } Function;
static const char *const function_names[] = {"linspace", "logspace", "uniform", "loguniform"};
#define N_FUNCTIONS 4

/* A function item's arguments as read: the function, its a, b and n, and the seed. */
typedef struct Call {
  Function f;
  double a, b;
  long long count;
  uint64_t seed;
} Call;

/* Splits name(args) in buf into the function (c->f) and the texts of a, b, n (pos) and of
 * seed= (NULL: none). */
static ap_status call_split(char *buf, const char *item, const char *key, const char *origin,
                            Call *c, char **pos, char **seed_text, ApError *err) {
  char *name = strip(buf), *open = strchr(name, '('), *close = strrchr(name, ')');
  if (!open || !close || close < open || *strip(close + 1))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': expected NAME(a, b, n) with one ')' last",
                   origin, key, item);
  *close = '\0';
  char *args = open + 1;
  *open = '\0';
  name = strip(name);
  int f = -1;
  for (int i = 0; i < N_FUNCTIONS; i++)
    if (!strcmp(name, function_names[i])) f = i;
  if (f < 0)
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s: unknown function '%.32s' in '%.64s' (known: linspace, logspace, "
                   "uniform, loguniform)",
                   origin, key, name, item);
  c->f = (Function)f;
  int random = f == F_UNIFORM || f == F_LOGUNIFORM, positional = 0, seeded = 0;
  *seed_text = NULL;
  if (*strip(args))
    for (char *arg = args, *next;; arg = next + 1) {
      next = strchr(arg, ',');
      if (next) *next = '\0';
      char *eq = strchr(arg, '=');
      if (eq) {
        *eq = '\0';
        if (!random || strcmp(strip(arg), "seed"))
          return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': unknown argument '%.16s=' (%s)",
                         origin, key, item, strip(arg),
                         random ? "uniform and loguniform take seed="
                                : "only uniform and loguniform take seed=");
        if (seeded++)
          return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': seed= given twice", origin, key,
                         item);
        *seed_text = strip(eq + 1);
      } else {
        if (seeded)
          return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': seed= comes after a, b and n",
                         origin, key, item);
        if (positional < 3) pos[positional] = arg;
        positional++;
      }
      if (!next) break;
    }
  if (positional != 3)
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s: %s takes 3 arguments (a, b, n%s), got %d in '%.64s'", origin, key,
                   function_names[f], random ? "; then seed=K if wanted" : "", positional, item);
  return AP_OK;
}

/* The arguments' values into c, checked: finite a and b, 1 <= n <= SWEEP_MAX_VALUES, a
 * seed >= 0, and a < b (0 < a for loguniform) for the random draws. */
static ap_status call_read(char **pos, char *seed_text, const char *item, const char *key,
                           const char *origin, Call *c, ApError *err) {
  const char *fn = function_names[c->f];
  double ab[2];
  for (int i = 0; i < 2; i++) {
    char *t = strip(pos[i]);
    if (!number(t, &ab[i]))
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': %c = %.32s: expected a number", origin,
                     key, item, "ab"[i], t);
    if (!isfinite(ab[i]))
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': %c = %.32s: not a finite number", origin,
                     key, item, "ab"[i], t);
  }
  c->a = ab[0], c->b = ab[1];
  char *t = strip(pos[2]), *end;
  errno = 0;
  c->count = strtoll(t, &end, 10);
  if (!*t || *end || errno == ERANGE)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': n = %.32s: expected an integer", origin,
                   key, item, t);
  if (c->count < 1)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': n = %lld: must be at least 1", origin, key,
                   item, c->count);
  if (c->count > SWEEP_MAX_VALUES)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': n = %lld: more than %d values", origin,
                   key, item, c->count, SWEEP_MAX_VALUES);
  c->seed = 0;
  if (seed_text) {
    errno = 0;
    unsigned long long u = isdigit((unsigned char)*seed_text) ? strtoull(seed_text, &end, 10) : 0;
    if (!isdigit((unsigned char)*seed_text) || *end || errno == ERANGE)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': seed = %.32s: expected an integer >= 0",
                     origin, key, item, seed_text);
    c->seed = (uint64_t)u;
  }
  int random = c->f == F_UNIFORM || c->f == F_LOGUNIFORM;
  if (random && !(c->a < c->b))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': %s needs a < b", origin, key, item, fn);
  if (c->f == F_UNIFORM && !isfinite(c->b - c->a))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': b - a is not a finite number", origin, key,
                   item);
  if (c->f == F_LOGUNIFORM && !(c->a > 0.0))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': loguniform needs 0 < a < b", origin, key,
                   item);
  return AP_OK;
}

/* The n values of c into v: numpy's linspace (and 10 to its powers), or the draws. */
static ap_status call_values(const Call *c, const char *item, const char *key, const char *origin,
                             double *v, int n, ApError *err) {
  Function f = c->f;
  double a = c->a, b = c->b;
  if (f == F_LINSPACE || f == F_LOGSPACE) { /* numpy's: a + i ((b - a)/(n - 1)), the last b */
    double step = n > 1 ? (b - a) / (double)(n - 1) : 0.0;
    for (int i = 0; i < n; i++) v[i] = a + (double)i * step;
    v[n - 1] = n > 1 ? b : a;
    for (int i = 0; i < n && f == F_LOGSPACE; i++) {
      double x = v[i];
      v[i] = sweep_exp10(x);
      if (!isfinite(v[i]) || v[i] == 0.0)
        return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s': 10^%g is %s", origin, key, item, x,
                       v[i] == 0.0 ? "below the smallest number (about 1e-324)"
                                   : "above the largest number (about 1.8e308)");
    }
  } else {
    uint64_t h = fnv1a(key);
    Dd la = {0.0, 0.0}, d = {0.0, 0.0};
    if (f == F_LOGUNIFORM) la = dd_log(a), d = dd_add(dd_log(b), dd_neg(la));
    for (int i = 0; i < n; i++) {
      double u = draw_u(c->seed, h, (uint32_t)i);
      if (f == F_UNIFORM) /* a + (b - a) u, rounded at each step; never above b */
        v[i] = fmin(a + (b - a) * u, b);
      else /* e^(ln a + u (ln b - ln a)), in [a, b] */
        v[i] = fmin(fmax(dd_exp(dd_add(la, dd_mul_d(d, u))).hi, a), b);
    }
  }
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s' gives a non-finite value", origin, key,
                     item);
  return AP_OK;
}

/* name(a, b, n[, seed=K]) */
static ap_status call(char *buf, const char *item, const char *key, const char *origin,
                      double **values, int *n, ApError *err) {
  Call c = {.f = F_LINSPACE};
  char *pos[3] = {NULL, NULL, NULL}, *seed_text = NULL;
  ap_status st;
  if ((st = call_split(buf, item, key, origin, &c, pos, &seed_text, err)) ||
      (st = call_read(pos, seed_text, item, key, origin, &c, err)))
    return st;
  *n = (int)c.count;
  if (!(*values = malloc((size_t)*n * sizeof **values)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  return call_values(&c, item, key, origin, *values, *n, err);
}

ap_status sweep_numbers(const char *item, const char *key, const char *origin, double **values,
                        int *n, ApError *err) {
  *values = NULL;
  *n = 0;
  char *buf = strdup(item);
  if (!buf) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  ap_status st = sweep_form(item) == SWEEP_STEP_RANGE
                     ? step_range(buf, item, key, origin, values, n, err)
                     : call(buf, item, key, origin, values, n, err);
  free(buf);
  if (st) {
    free(*values);
    *values = NULL;
    *n = 0;
  }
  return st;
}
