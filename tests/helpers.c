#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ap_status th_try_experiment(ApExperiment *ex, const char *ini_text, ApError *err) {
  Ini ini = {0};
  ap_status st = ini_parse_text(&ini, ini_text, "test.ini", err);
  if (!st) st = config_build(ex, &ini, "test.ini", err);
  ini_free(&ini);
  return st;
}

void th_experiment(ApExperiment *ex, const char *ini_text) {
  ApError err = {{0}};
  ap_status st = th_try_experiment(ex, ini_text, &err);
  cr_assert_eq(st, AP_OK, "experiment failed to build: %s", err.msg);
}

void th_run(Session *s, const ApExperiment *ex, int threads) {
  ApError err = {{0}};
  const ApBackend *cpu = ap_backend_cpu();
  cpu->set_threads(threads);
  ap_status st = session_open(s, ex, cpu, &err);
  cr_assert_eq(st, AP_OK, "session_open: %s", err.msg);
  st = session_run(s, 0, ex->epochs, &err);
  cr_assert_eq(st, AP_OK, "session_run: %s", err.msg);
  st = session_pull(s, &err);
  cr_assert_eq(st, AP_OK, "session_pull: %s", err.msg);
}

void th_tempdir(char *out, size_t n) {
  const char *base = getenv("TMPDIR");
  snprintf(out, n, "%s/apical-test-XXXXXX", base && *base ? base : "/tmp");
  cr_assert_not_null(mkdtemp(out), "mkdtemp failed");
}

void th_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot write %s", path);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

float th_at(const float *metric, const Session *s, int r, int e) {
  return metric[(size_t)r * (size_t)s->E + (size_t)e];
}
