/* The sweep forms that stand for many numbers (a..b step s, linspace, logspace, uniform,
 * loguniform): their exact values as docs/experiment-files.md defines them, computed here
 * on their own, and one clear message for every kind of bad item. */
#include "helpers.h"
#include "host/sweep.h"
#include "kernels/core/ap_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text as an experiment of the microcircuit (appended: line numbers stay). */
static void expect_error(const char *text, const char *must_contain) {
  char *full = malloc(strlen(text) + 64);
  sprintf(full, "%s\n[experiment]\nmodel = microcircuit\n", text);
  ApExperiment ex;
  ApError err = {{0}};
  ap_status st = th_try_experiment(&ex, full, &err);
  cr_assert_eq(st, AP_ERR_CONFIG, "status %d (%s) for:\n%s", st, err.msg, full);
  cr_assert(strstr(err.msg, must_contain), "message '%s' lacks '%s'", err.msg, must_contain);
  cr_assert_null(strchr(err.msg, '\n'), "message spans lines: %s", err.msg);
  free(full);
}

/* One swept key's values, replica by replica (it is the only axis). */
static void sweep_of(ApExperiment *ex, const char *key, const char *values) {
  char text[512];
  snprintf(text, sizeof text, "[sweep]\n%s = %s\n", key, values);
  th_experiment(ex, text);
}

/* The documented stream, written out again: FNV-1a of the key's name, Philox4x32-10 block
 * (8, h low, h high, i/2) keyed by the seed, words 2(i%2) (low) and 2(i%2)+1 (high). */
static double documented_u(const char *key, uint64_t seed, uint32_t i) {
  uint64_t h = 14695981039346656037u;
  for (const char *c = key; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211u;
  philox4x32_ctr_t b = ap_rng_block(seed, 8, (uint32_t)h, (uint32_t)(h >> 32), i / 2);
  uint64_t x = (uint64_t)b.v[2 * (i % 2) + 1] << 32 | b.v[2 * (i % 2)];
  return ldexp((double)(x >> 11), -53);
}

/* x and y differ by at most `ulps` units in the last place */
static int near_ulps(double x, double y, int ulps) {
  for (int i = 0; i < ulps; i++) x = nextafter(x, y);
  return x == y;
}

Test(sweep, step_ranges_are_a_plus_i_s_and_end_on_b) {
  ApExperiment ex;
  /* (0.3 - 0.1)/0.1 = 1.9999999999999998: three values, the last b itself (0.1 + 2 * 0.1
   * would be 0.30000000000000004) */
  sweep_of(&ex, "gl", "0.1..0.3 step 0.1");
  cr_assert_eq(ex.n_replicas, 3);
  cr_assert_eq(th_mc(&ex, 0)->gl, 0.1);
  cr_assert_eq(th_mc(&ex, 1)->gl, 0.1 + 1.0 * 0.1);
  cr_assert_eq(th_mc(&ex, 2)->gl, 0.3);
  config_free(&ex);
  /* b not reached: the values stop below it, unrounded */
  sweep_of(&ex, "gl", "0..1 step 0.3");
  cr_assert_eq(ex.n_replicas, 4);
  for (int i = 0; i < 4; i++) cr_assert_eq(th_mc(&ex, i)->gl, 0.0 + (double)i * 0.3);
  cr_assert_neq(th_mc(&ex, 3)->gl, 0.9); /* 0.8999999999999999: a + i s, not a decimal */
  config_free(&ex);
  /* going down */
  sweep_of(&ex, "u_high", "1..-0.5 step -0.25");
  cr_assert_eq(ex.n_replicas, 7);
  for (int i = 0; i < 7; i++) cr_assert_eq(th_mc(&ex, i)->u_high, 1.0 + (double)i * -0.25);
  config_free(&ex);
  /* a = b: one value, whatever the step's sign */
  sweep_of(&ex, "gl", "0.5..0.5 step -1");
  cr_assert_eq(ex.n_replicas, 1);
  cr_assert_eq(th_mc(&ex, 0)->gl, 0.5);
  config_free(&ex);
  /* integer keys count in integers: exact past 2^53, where doubles are 2 apart */
  sweep_of(&ex, "seed", "9007199254740993..9007199254741001 step 4");
  cr_assert_eq(ex.n_replicas, 3);
  cr_assert_eq(th_mc(&ex, 0)->seed, 9007199254740993u);
  cr_assert_eq(th_mc(&ex, 1)->seed, 9007199254740997u);
  cr_assert_eq(th_mc(&ex, 2)->seed, 9007199254741001u);
  config_free(&ex);
  sweep_of(&ex, "t_pres", "30..5 step -10");
  cr_assert_eq(ex.n_replicas, 3);
  for (int i = 0; i < 3; i++) cr_assert_eq(th_mc(&ex, i)->t_pres, 30 - 10 * i);
  config_free(&ex);
  /* integers written as numbers, and fractions whose values are whole */
  sweep_of(&ex, "seed", "0..1e3 step 250");
  cr_assert_eq(ex.n_replicas, 5);
  for (int i = 0; i < 5; i++) cr_assert_eq(th_mc(&ex, i)->seed, (uint64_t)(250 * i));
  config_free(&ex);
  sweep_of(&ex, "t_pres", "1..3 step 1.0, 5");
  cr_assert_eq(ex.n_replicas, 4);
  for (int i = 0; i < 4; i++) cr_assert_eq(th_mc(&ex, i)->t_pres, i < 3 ? i + 1 : 5);
  config_free(&ex);
}

Test(sweep, linspace_is_numpys_with_both_ends_exact) {
  ApExperiment ex;
  /* 0.1 + 3 ((0.3 - 0.1)/3) is 0.30000000000000004: the end is b itself */
  const double a[] = {-1.0, 0.1, 0.1, 1e-3, 5.0}, b[] = {2.0, 0.7, 0.3, 0.3, 5.0};
  const int n[] = {7, 4, 4, 9, 1};
  for (int c = 0; c < 5; c++) {
    char v[128];
    snprintf(v, sizeof v, "linspace(%.17g, %.17g, %d)", a[c], b[c], n[c]);
    sweep_of(&ex, "u_high", v);
    cr_assert_eq(ex.n_replicas, n[c], "%s", v);
    double step = n[c] > 1 ? (b[c] - a[c]) / (double)(n[c] - 1) : 0.0;
    for (int i = 0; i < n[c]; i++) {
      double want = i == n[c] - 1 && n[c] > 1 ? b[c] : a[c] + (double)i * step;
      cr_assert_eq(th_mc(&ex, i)->u_high, want, "%s: value %d is %.17g, not %.17g", v, i,
                   th_mc(&ex, i)->u_high, want);
    }
    config_free(&ex);
  }
  /* integer keys take it where every value is whole */
  sweep_of(&ex, "t_pres", "linspace(10, 40, 4)");
  for (int i = 0; i < 4; i++) cr_assert_eq(th_mc(&ex, i)->t_pres, 10 + 10 * i);
  config_free(&ex);
}

Test(sweep, logspace_gives_the_nearest_double_to_each_power) {
  ApExperiment ex;
  sweep_of(&ex, "gl", "logspace(-3, -1, 3)");
  cr_assert_eq(ex.n_replicas, 3);
  cr_assert_eq(th_mc(&ex, 0)->gl, 0.001); /* the same bits as the value written out */
  cr_assert_eq(th_mc(&ex, 1)->gl, 0.01);
  cr_assert_eq(th_mc(&ex, 2)->gl, 0.1);
  config_free(&ex);
  /* integer powers against strtod's correctly rounded ones (u_high goes up to 1e300) */
  sweep_of(&ex, "u_high", "logspace(-307, 300, 608)");
  cr_assert_eq(ex.n_replicas, 608);
  for (int k = -307; k <= 300; k++) {
    char text[16];
    snprintf(text, sizeof text, "1e%d", k);
    cr_assert_eq(th_mc(&ex, k + 307)->u_high, strtod(text, NULL), "10^%d", k);
  }
  config_free(&ex);
  sweep_of(&ex, "t_pres", "logspace(0, 3, 4)");
  for (int i = 0, p = 1; i < 4; i++, p *= 10) cr_assert_eq(th_mc(&ex, i)->t_pres, p);
  config_free(&ex);
  /* fractional exponents: numpy's linspace, then 10^y */
  sweep_of(&ex, "gl", "logspace(-2, 1, 7)");
  for (int i = 0; i < 7; i++) {
    double y = i == 6 ? 1.0 : -2.0 + (double)i * (3.0 / 6.0);
    cr_assert(near_ulps(th_mc(&ex, i)->gl, pow(10.0, y), 1), "10^%g = %.17g, pow says %.17g", y,
              th_mc(&ex, i)->gl, pow(10.0, y));
  }
  config_free(&ex);
}

/* 10^y against the C library's pow (at most one unit apart: pow is not always correctly
 * rounded, sweep_exp10 is but for ties closer than 2^-90), and exactly against values
 * computed to 70 digits (Python's decimal) where pow is off. */
Test(sweep, exp10_is_the_nearest_double) {
  for (int k = -323; k <= 308; k++) { /* subnormal powers too */
    char text[16];
    snprintf(text, sizeof text, "1e%d", k);
    cr_assert_eq(sweep_exp10((double)k), strtod(text, NULL), "10^%d", k);
  }
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double y = ((double)(x >> 11) * 0x1p-53 - 0.5) * 614.0;
    double got = sweep_exp10(y), want = pow(10.0, y);
    cr_assert(near_ulps(got, want, 1), "10^%a: %a, pow %a", y, got, want);
  }
  /* where glibc's pow is one unit off (found among 3000 random exponents) */
  static const struct {
    double y, want;
  } hard[] = {{23.0, 0x1.52d02c7e14af6p+76}, /* 1e23 */
              {210.0, 0x1.8557f31326bbbp+697},
              {0x1.8f10cae8ae219p+7, 0x1.c83a1773394d9p+662},
              {-0x1.a95f4ae2d2beap+4, 0x1.9b496db357bc2p-89}};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(sweep_exp10(hard[i].y), hard[i].want, "10^%a = %a, not %a", hard[i].y,
                 sweep_exp10(hard[i].y), hard[i].want);
  cr_assert_eq(sweep_exp10(23.0), 1e23);
}

Test(sweep, uniform_draws_follow_the_documented_stream) {
  ApExperiment ex, again;
  const char *item = "uniform(0.01, 0.1, 20, seed=3)";
  sweep_of(&ex, "gl", item);
  sweep_of(&again, "gl", item);
  cr_assert_eq(ex.n_replicas, 20);
  cr_assert_eq(memcmp(ex.replicas, again.replicas, sizeof(McParams) * 20), 0, "two parses differ");
  int equal = 1;
  for (int i = 0; i < 20; i++) {
    double v = th_mc(&ex, i)->gl, u = documented_u("gl", 3, (uint32_t)i);
    cr_assert_eq(v, fmin(0.01 + (0.1 - 0.01) * u, 0.1), "draw %d", i);
    cr_assert(v >= 0.01 && v <= 0.1, "draw %d = %g", i, v);
    equal &= v == th_mc(&ex, 0)->gl;
  }
  cr_assert(!equal, "all draws equal");
  config_free(&again);
  /* another seed, other values; no seed is seed=0 */
  sweep_of(&again, "gl", "uniform(0.01, 0.1, 20, seed=4)");
  for (int i = 0; i < 20; i++) cr_assert_neq(th_mc(&again, i)->gl, th_mc(&ex, i)->gl, "draw %d", i);
  config_free(&again);
  config_free(&ex);
  sweep_of(&ex, "gl", "uniform(0.01, 0.1, 20)");
  sweep_of(&again, "gl", "uniform(0.01, 0.1, 20, seed=0)");
  cr_assert_eq(memcmp(ex.replicas, again.replicas, sizeof(McParams) * 20), 0);
  config_free(&again);
  config_free(&ex);
  /* another key, another stream */
  sweep_of(&ex, "ga", "uniform(0, 1, 4)");
  sweep_of(&again, "gl", "uniform(0, 1, 4)");
  for (int i = 0; i < 4; i++) cr_assert_neq(th_mc(&ex, i)->ga, th_mc(&again, i)->gl);
  config_free(&again);
  config_free(&ex);
  /* the values of the Python reference in docs/experiment-files.md */
  sweep_of(&ex, "gl", "uniform(0, 1, 5, seed=3)");
  static const double gl3[] = {0.5438983278806205, 0.6860288758243379, 0.28406797271355055,
                               0.6216671466295481, 0.8839310068131925};
  for (int i = 0; i < 5; i++) cr_assert_eq(th_mc(&ex, i)->gl, gl3[i], "draw %d", i);
  config_free(&ex);
  sweep_of(&ex, "ga", "uniform(0, 1, 4)");
  static const double ga0[] = {0.8391176814223873, 0.27969633069897404, 0.16970624634347176,
                               0.038942668181221385};
  for (int i = 0; i < 4; i++) cr_assert_eq(th_mc(&ex, i)->ga, ga0[i], "draw %d", i);
  config_free(&ex);
  /* a large stream is spread over its range: each tenth holds about a tenth */
  sweep_of(&ex, "u_high", "uniform(-1, 1, 20000, seed=9)");
  int bins[10] = {0};
  for (int i = 0; i < 20000; i++) {
    double v = th_mc(&ex, i)->u_high;
    cr_assert(v >= -1.0 && v <= 1.0);
    bins[(int)((v + 1.0) * 5.0) % 10]++;
  }
  for (int k = 0; k < 10; k++)
    cr_assert(bins[k] > 1800 && bins[k] < 2200, "bin %d: %d", k, bins[k]);
  config_free(&ex);
}

Test(sweep, loguniform_draws_are_uniform_in_log_space) {
  ApExperiment ex, again;
  sweep_of(&ex, "gl", "loguniform(1e-4, 1, 4000, seed=11)");
  sweep_of(&again, "gl", "loguniform(1e-4, 1, 4000, seed=11)");
  cr_assert_eq(ex.n_replicas, 4000);
  cr_assert_eq(memcmp(ex.replicas, again.replicas, sizeof(McParams) * 4000), 0);
  config_free(&again);
  int below = 0, equal = 1;
  for (int i = 0; i < 4000; i++) {
    double v = th_mc(&ex, i)->gl, u = documented_u("gl", 11, (uint32_t)i);
    cr_assert(v >= 1e-4 && v <= 1.0, "draw %d = %g", i, v);
    /* e^(ln a + u (ln b - ln a)) with the C library: its rounding of the exponent (about
     * -9.2) moves the value by up to about ten units */
    double want = exp(log(1e-4) + u * (log(1.0) - log(1e-4)));
    cr_assert(fabs(v - want) <= 2e-15 * want, "draw %d: %.17g, libm %.17g", i, v, want);
    below += v < 1e-2;
    equal &= v == th_mc(&ex, 0)->gl;
  }
  cr_assert(!equal);
  cr_assert(below > 1800 && below < 2200, "%d of 4000 below the geometric middle", below);
  config_free(&ex);
  sweep_of(&again, "gl", "loguniform(1e-4, 1, 4000, seed=12)");
  sweep_of(&ex, "gl", "loguniform(1e-4, 1, 4000, seed=11)");
  int same = 0;
  for (int i = 0; i < 4000; i++) same += th_mc(&again, i)->gl == th_mc(&ex, i)->gl;
  cr_assert_eq(same, 0);
  config_free(&again);
  config_free(&ex);
  /* exact: the nearest doubles, computed to 80 digits (Python's decimal) */
  sweep_of(&ex, "gl", "loguniform(1e-5, 3, 3, seed=5)");
  static const double want[] = {0.005560401246765367, 0.030453739038380456, 0.0035381010226629497};
  for (int i = 0; i < 3; i++) cr_assert_eq(th_mc(&ex, i)->gl, want[i], "draw %d", i);
  config_free(&ex);
}

Test(sweep, forms_mix_with_values_in_zips_and_subsweeps) {
  ApExperiment ex;
  th_experiment(&ex, "[sweep]\n"
                     "eta_pi = 0, logspace(-3, -1, 3)\n"
                     "t_pres = 10..40 step 10\n"
                     "zip = eta_pi t_pres\n"
                     "seed = 1, 5..7\n"
                     "[sweep.a]\n"
                     "gl = uniform(0.01, 0.1, 2, seed=3)\n"
                     "[sweep.b]\n"
                     "gl = 0.5, uniform(0.01, 0.1, 2, seed=3), 0.7\n");
  /* a: 4 (zipped) x 2 gl x 4 seeds; b: 4 x 4 gl x 4 seeds */
  cr_assert_eq(ex.n_replicas, 32 + 64);
  static const double eta[] = {0.0, 0.001, 0.01, 0.1};
  static const uint64_t seeds[] = {1, 5, 6, 7};
  double u3[2] = {fmin(0.01 + (0.1 - 0.01) * documented_u("gl", 3, 0), 0.1),
                  fmin(0.01 + (0.1 - 0.01) * documented_u("gl", 3, 1), 0.1)};
  for (int r = 0; r < 96; r++) {
    const McParams *p = th_mc(&ex, r);
    int sub = r >= 32, q = sub ? r - 32 : r, n_gl = sub ? 4 : 2;
    int s = q % 4, g = (q / 4) % n_gl, z = q / (4 * n_gl);
    cr_assert_eq(p->seed, seeds[s], "replica %d", r);
    cr_assert_eq(p->eta_pi[0], eta[z], "replica %d", r);
    cr_assert_eq(p->t_pres, 10 * (z + 1), "replica %d", r);
    /* the same item gives the same draws in both sub-sweeps */
    double want = !sub ? u3[g] : g == 0 ? 0.5 : g == 3 ? 0.7 : u3[g - 1];
    cr_assert_eq(p->gl, want, "replica %d", r);
  }
  config_free(&ex);
  /* zipped lengths count the generated values */
  expect_error("[sweep]\ngl = linspace(0, 1, 3)\nt_pres = 1..4\nzip = gl t_pres\n",
               "t_pres has 4 values but is zipped with gl");
}

Test(sweep, set_takes_the_forms_and_is_named_in_messages) {
  Ini ini = {0};
  ApError err = {{0}};
  cr_assert_eq(ini_parse_text(&ini, "[experiment]\nmodel = microcircuit\n[sweep]\ngl = 0.1\n",
                              "t.ini", &err),
               AP_OK);
  cr_assert_eq(ini_set(&ini, "sweep.gl=uniform(0.01, 0.1, 20, seed=3)", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "sweep.seed = 1..5 step 2", &err), AP_OK);
  ApExperiment ex;
  cr_assert_eq(config_build(&ex, &ini, "t.ini", &err), AP_OK, "%s", err.msg);
  cr_assert_eq(ex.n_replicas, 60);
  cr_assert_eq(th_mc(&ex, 3)->gl, fmin(0.01 + (0.1 - 0.01) * documented_u("gl", 3, 1), 0.1));
  cr_assert_eq(th_mc(&ex, 5)->seed, 5u);
  config_free(&ex);
  cr_assert_eq(ini_set(&ini, "sweep.t_pres=linspace(1, 2, 3)", &err), AP_OK);
  cr_assert_eq(config_build(&ex, &ini, "t.ini", &err), AP_ERR_CONFIG);
  cr_assert(strstr(err.msg, "--set sweep.t_pres=linspace(1, 2, 3): t_pres = 1.5: not an integer"),
            "%s", err.msg);
  ini_free(&ini);
}

/* A random sweep is stored as written: the dump builds the same replicas, compares equal
 * (what --resume checks), and a changed seed= does not. */
Test(sweep, the_dump_keeps_the_items_and_rebuilds_the_same_values) {
  ApExperiment ex, again;
  th_experiment(&ex, "[sweep]\ngl = loguniform(0.01, 0.1, 5, seed=2), 0.5\n"
                     "[sweep.x]\nga = uniform(0, 1, 3)\n[sweep.y]\nu_high = 0..1 step 0.25\n");
  char *dump = config_dump(&ex);
  cr_assert(strstr(dump, "gl = loguniform(0.01, 0.1, 5, seed=2), 0.5\n"), "%s", dump);
  th_experiment(&again, dump);
  cr_assert_eq(again.n_replicas, ex.n_replicas);
  cr_assert_eq(memcmp(again.replicas, ex.replicas, sizeof(McParams) * (size_t)ex.n_replicas), 0);
  char *d2 = config_dump(&again), *i1 = config_identity(dump), *i2 = config_identity(d2);
  cr_assert_str_eq(i1, i2);
  config_free(&again);
  th_experiment(&again, "[sweep]\ngl = loguniform(0.01, 0.1, 5, seed=3), 0.5\n"
                        "[sweep.x]\nga = uniform(0, 1, 3)\n[sweep.y]\nu_high = 0..1 step 0.25\n");
  char *d3 = config_dump(&again), *i3 = config_identity(d3);
  cr_assert_str_neq(i1, i3);
  free(dump), free(d2), free(d3), free(i1), free(i2), free(i3);
  config_free(&again);
  config_free(&ex);
}

Test(sweep, integer_keys_refuse_fractions_naming_key_value_and_origin) {
  expect_error("[sweep]\nt_pres = linspace(1, 2, 3)\n",
               "test.ini:2: t_pres = 1.5: not an integer (from 'linspace(1, 2, 3)'; t_pres takes "
               "integers)");
  expect_error("[sweep]\nseed = 1, uniform(1, 2, 3)\n", "test.ini:2: seed = 1.");
  expect_error("[sweep]\nseed = uniform(1, 2, 3)\n", "not an integer (from 'uniform(1, 2, 3)'");
  expect_error("[sweep]\nt_pres = 1..2 step 0.5\n", "test.ini:2: t_pres = 1.5: not an integer");
  expect_error("[sweep]\nt_pres = logspace(0, 1, 3)\n",
               "t_pres = 3.1622776601683795: not an integer");
  /* whole values still meet the key's range */
  expect_error("[sweep]\nt_pres = linspace(0, 10, 3)\n", "test.ini:2: t_pres = 0: must be in [1,");
  expect_error("[sweep]\ngl = linspace(-1, 1, 3)\n", "test.ini:2: gl = -1: must be >= 0");
  expect_error("[sweep]\ndt = 0..1 step 0.5\n", "test.ini:2: dt = 0: must be > 0");
  expect_error("[sweep]\nseed = linspace(-2, 2, 3)\n", "seed = -2: expected an integer >= 0");
}

Test(sweep, every_bad_item_is_one_message_with_its_origin) {
  /* ranges with a step */
  expect_error("[sweep]\ngl = 3..1 step 1\n", "test.ini:2: gl: empty range '3..1 step 1'");
  expect_error("[sweep]\ngl = 1..3 step -1\n", "empty range '1..3 step -1' (the step leads away");
  expect_error("[sweep]\nseed = 5..1 step 1\n", "test.ini:2: seed: empty range '5..1 step 1'");
  expect_error("[sweep]\ngl = 0..1 step 0\n", "test.ini:2: gl: range '0..1 step 0' has step 0");
  expect_error("[sweep]\nseed = 1..3 step 0\n", "range '1..3 step 0' has step 0");
  expect_error("[sweep]\ngl = 1..2 step 1e-7\n", "range '1..2 step 1e-7' has more than 1000000");
  expect_error("[sweep]\nseed = 1..3000000 step 2\n", "has more than 1000000 values");
  expect_error("[sweep]\ngl = 0..inf step 1\n", "range '0..inf step 1': a non-finite number");
  expect_error("[sweep]\ngl = 0..1 step x\n", "bad range '0..1 step x' (expected a..b step s)");
  expect_error("[sweep]\ngl = 0..1\n", "ranges a..b only for integer keys (numbers take a..b step");
  expect_error("[sweep]\nseed = 5..2\n", "empty range '5..2' (the end is below the start)");
  /* functions */
  expect_error("[sweep]\ngl = geomspace(1, 2, 3)\n",
               "test.ini:2: gl: unknown function 'geomspace' in 'geomspace(1, 2, 3)' (known: "
               "linspace, logspace, uniform, loguniform)");
  expect_error("[sweep]\ngl = linspace(1, 2)\n",
               "test.ini:2: gl: linspace takes 3 arguments (a, b, n), got 2");
  expect_error("[sweep]\ngl = uniform(1, 2, 3, 4)\n", "uniform takes 3 arguments (a, b, n; then "
                                                      "seed=K if wanted), got 4");
  expect_error("[sweep]\ngl = logspace()\n", "logspace takes 3 arguments (a, b, n), got 0");
  expect_error("[sweep]\ngl = linspace(1, 2, 0)\n",
               "'linspace(1, 2, 0)': n = 0: must be at least 1");
  expect_error("[sweep]\ngl = uniform(1, 2, -3)\n", "n = -3: must be at least 1");
  expect_error("[sweep]\ngl = linspace(1, 2, 2.5)\n", "n = 2.5: expected an integer");
  expect_error("[sweep]\ngl = linspace(1, 2, 1000001)\n", "n = 1000001: more than 1000000 values");
  expect_error("[sweep]\ngl = linspace(0, 1, 1000000), 2\n",
               "test.ini:2: gl: more than 1000000 values");
  expect_error("[sweep]\ngl = linspace(inf, 2, 3)\n", "a = inf: not a finite number");
  expect_error("[sweep]\ngl = uniform(0, nan, 3)\n", "b = nan: not a finite number");
  expect_error("[sweep]\ngl = linspace(0, x, 3)\n", "b = x: expected a number");
  expect_error("[sweep]\nu_high = linspace(-1e308, 1e308, 3)\n",
               "'linspace(-1e308, 1e308, 3)' gives a non-finite value");
  expect_error("[sweep]\nu_high = uniform(-1e308, 1e308, 3)\n", "b - a is not a finite number");
  expect_error("[sweep]\ngl = logspace(0, 400, 2)\n", "10^400 is above the largest number");
  expect_error("[sweep]\ngl = logspace(-400, 0, 2)\n", "10^-400 is below the smallest number");
  expect_error("[sweep]\ngl = uniform(2, 1, 3)\n", "'uniform(2, 1, 3)': uniform needs a < b");
  expect_error("[sweep]\ngl = loguniform(0, 1, 3)\n", "loguniform needs 0 < a < b");
  expect_error("[sweep]\ngl = uniform(0, 1, 3, seed=x)\n", "seed = x: expected an integer >= 0");
  expect_error("[sweep]\ngl = uniform(0, 1, 3, seed=-1)\n", "seed = -1: expected an integer >= 0");
  expect_error("[sweep]\ngl = uniform(0, 1, 3, seed=1, seed=2)\n", "seed= given twice");
  expect_error("[sweep]\ngl = uniform(seed=1, 0, 1, 3)\n", "seed= comes after a, b and n");
  expect_error("[sweep]\ngl = uniform(0, 1, 3, sed=1)\n",
               "unknown argument 'sed=' (uniform and loguniform take seed=)");
  expect_error("[sweep]\ngl = linspace(0, 1, 3, seed=1)\n",
               "unknown argument 'seed=' (only uniform and loguniform take seed=)");
  expect_error("[sweep]\ngl = linspace(0, 1, 3\n", "expected NAME(a, b, n) with one ')' last");
  expect_error("[sweep]\ngl = linspace(0, 1, 3) + 1\n", "expected NAME(a, b, n) with one ')' last");
  /* keys that take no numbers */
  expect_error("[sweep]\nvariant = linspace(0, 1, 2)\n",
               "test.ini:2: variant: 'linspace(0, 1, 2)' gives numbers; variant takes original|le");
  expect_error("[sweep]\neta_up = linspace(0, 1, 2)\n", "eta_up needs 2 values");
}
