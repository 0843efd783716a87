/* Experiment files: sweeps expand as documented, and every kind of bad input is one
 * clear error naming where it is. */
#include "helpers.h"

#include <string.h>

static void expect_error(const char *text, ap_status code, const char *must_contain) {
  ApExperiment ex;
  ApError err = {{0}};
  ap_status st = th_try_experiment(&ex, text, &err);
  cr_assert_eq(st, code, "status %d (%s) for:\n%s", st, err.msg, text);
  cr_assert(strstr(err.msg, must_contain), "message '%s' lacks '%s'", err.msg, must_contain);
  cr_assert_null(strchr(err.msg, '\n'), "message spans lines: %s", err.msg);
}

Test(config, malformed_files_name_file_and_line) {
  expect_error("[model]\ngl 0.03\n", AP_ERR_CONFIG, "test.ini:2");
  expect_error("[model\ngl = 1\n", AP_ERR_CONFIG, "test.ini:1");
  expect_error("gl = 1\n", AP_ERR_CONFIG, "before any [section]");
  expect_error("[model]\n = 3\n", AP_ERR_CONFIG, "test.ini:2");
  expect_error("[model]\ngl = 0.1\ngl = 0.2\n", AP_ERR_CONFIG, "set twice");
}

Test(config, unknown_keys_and_sections) {
  expect_error("[model]\n\n# comment\ngll = 0.03\n", AP_ERR_CONFIG, "test.ini:4: unknown key 'gll'");
  expect_error("[modle]\ngl = 0.03\n", AP_ERR_CONFIG, "unknown section [modle]");
  expect_error("[sweep]\nepochs = 1, 2\n", AP_ERR_CONFIG, "cannot be swept");
  expect_error("[sweep]\ndims = [9, 30, 3]\n", AP_ERR_CONFIG, "dims cannot be swept");
}

Test(config, values_out_of_range_or_of_the_wrong_type) {
  expect_error("[model]\ngl = -1\n", AP_ERR_CONFIG, "gl = -1: must be >= 0");
  expect_error("[model]\ndt = 0\n", AP_ERR_CONFIG, "dt = 0: must be > 0");
  expect_error("[model]\nt_pres = 2.5\n", AP_ERR_CONFIG, "expected an integer");
  expect_error("[model]\ngb = fast\n", AP_ERR_CONFIG, "expected a number");
  expect_error("[model]\nvariant = new\n", AP_ERR_CONFIG, "expected original or le");
  expect_error("[train]\nteacher = maybe\n", AP_ERR_CONFIG, "expected true or false");
  expect_error("[train]\nepochs = 0\n", AP_ERR_CONFIG, "epochs = 0: must be in [1,");
  expect_error("[model]\nseed = -3\n", AP_ERR_CONFIG, "integer >= 0");
  expect_error("[model]\neta_up = 0.1\n", AP_ERR_CONFIG, "eta_up needs 2 values");
  expect_error("[model]\ndims = 9, 30, 3\neta_ip = 0.1, 0.2\n", AP_ERR_CONFIG, "eta_ip needs 1 value");
  expect_error("[model]\ndims = 9, 20, 20, 3\n", AP_ERR_CONFIG, "give eta_up (3 values)");
  expect_error("[model]\ndims = 8, 30, 3\n", AP_ERR_CONFIG, "bars needs dims");
  expect_error("[model]\nt_pres = 10\nout_lag = 10\n", AP_ERR_CONFIG, "out_lag = 10 must be smaller");
  expect_error("[sweep]\nt_pres = 10, 3\nout_lag = 5\n", AP_ERR_CONFIG, "out_lag = 5 must be smaller");
  expect_error("[experiment]\ndataset = cifar\n", AP_ERR_CONFIG, "expected bars, idx or random");
}

Test(config, sweep_errors) {
  expect_error("[sweep]\nt_pres = 10, 20\nout_lag = 1, 2, 3\nzip = t_pres out_lag\n", AP_ERR_CONFIG,
               "zipped with");
  expect_error("[sweep]\nt_pres = 10, 20\nzip = t_pres gl\n", AP_ERR_CONFIG, "zip names 'gl'");
  expect_error("[sweep]\nseed = 5..2\n", AP_ERR_CONFIG, "bad range");
  expect_error("[sweep]\ngl = 0.1..0.3\n", AP_ERR_CONFIG, "only for integer keys");
  expect_error("[sweep]\ngl = 0.1, , 0.3\n", AP_ERR_CONFIG, "empty item");
  expect_error("[sweep]\ngl = 0.1, -2\n", AP_ERR_CONFIG, "test.ini:2: gl = -2");
}

Test(config, sweeps_expand_with_zips_subsweeps_and_seed_fastest) {
  ApExperiment ex;
  th_experiment(&ex, "[model]\ngl = 0.05\n"
                     "[sweep]\nseed = 1..3\nt_pres = 10, 20\neta_up = [1, 2], [3, 4]\n"
                     "zip = t_pres eta_up\n"
                     "[sweep.le]\nvariant = le\n"
                     "[sweep.orig]\nvariant = original\nout_lag = 4, 8\nzip = t_pres out_lag\n"
                     "gl = 0.07\n");
  cr_assert_eq(ex.n_replicas, 12);
  for (int r = 0; r < 12; r++) {
    const McParams *p = &ex.replicas[r];
    int sub = r / 6, point = (r / 3) % 2;
    cr_assert_eq(p->seed, (uint64_t)(r % 3 + 1), "replica %d", r);
    cr_assert_eq(p->t_pres, point ? 20 : 10);
    cr_assert_eq(p->eta_up[0], point ? 3.0 : 1.0);
    cr_assert_eq(p->eta_up[1], point ? 4.0 : 2.0);
    cr_assert_eq(p->variant, sub ? MC_ORIGINAL : MC_LE);
    cr_assert_eq(p->out_lag, sub ? (point ? 8 : 4) : 0);
    cr_assert_eq(p->gl, sub ? 0.07 : 0.05); /* [sweep.NAME] sets a key for its replicas */
  }
  config_free(&ex);
}

Test(config, set_overrides_a_key_and_the_dump_round_trips) {
  Ini ini = {0};
  ApError err = {{0}};
  cr_assert_eq(ini_parse_text(&ini, "[train]\nepochs = 5\n[sweep]\nseed = 1, 2\n", "t.ini", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "train.epochs=7", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "sweep.seed = 3..6", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "model.gl=0.2", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "nodot=1", &err), AP_ERR_USAGE);
  ApExperiment ex;
  cr_assert_eq(config_build(&ex, &ini, "t.ini", &err), AP_OK, "%s", err.msg);
  cr_assert_eq(ex.epochs, 7);
  cr_assert_eq(ex.n_replicas, 4);
  cr_assert_eq(ex.replicas[3].seed, 6u);
  cr_assert_eq(ex.base.gl, 0.2);
  /* the dump is itself a valid experiment file that builds the same replicas */
  char *dump = config_dump(&ex);
  ApExperiment again;
  th_experiment(&again, dump);
  cr_assert_eq(again.n_replicas, ex.n_replicas);
  cr_assert_eq(memcmp(again.replicas, ex.replicas, sizeof(McParams) * (size_t)ex.n_replicas), 0);
  char *a = config_dump(&again);
  cr_assert_str_eq(a, dump);
  /* identity ignores epochs only */
  char *ia = config_identity(dump);
  again.epochs = 99;
  char *b = config_dump(&again), *ib = config_identity(b);
  cr_assert_str_eq(ia, ib);
  free(a), free(b), free(ia), free(ib), free(dump);
  config_free(&again);
  config_free(&ex);
  ini_free(&ini);
}
