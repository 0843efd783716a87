/* nftw is XSI */
#define _XOPEN_SOURCE 700
#include "helpers.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

ap_status th_try_experiment(ApExperiment *ex, const char *ini_text, ApError *err) {
  Ini ini = {0};
  ap_status st = ini_parse_text(&ini, ini_text, "test.ini", err);
  if (!st) st = config_build(ex, &ini, "test.ini", err);
  ini_free(&ini);
  return st;
}

void th_experiment(ApExperiment *ex, const char *ini_text) {
  ApError err = {{0}};
  char *text = malloc(strlen(ini_text) + 64);
  cr_assert_not_null(text);
  /* appended, so that line numbers in messages stay those of the text */
  sprintf(text, "%s%s", ini_text,
          strstr(ini_text, "model =") ? "" : "\n[experiment]\nmodel = microcircuit\n");
  ap_status st = th_try_experiment(ex, text, &err);
  free(text);
  cr_assert_eq(st, AP_OK, "experiment failed to build: %s", err.msg);
}

void th_run(Session *s, const ApExperiment *ex, int threads) {
  th_run_version(s, ex, threads, NULL);
}

void th_run_version(Session *s, const ApExperiment *ex, int threads, const char *version) {
  ApError err = {{0}};
  ApExec exec = {.threads = threads, .cpu_version = version};
  ap_status st = session_open(s, ex, ap_backend_cpu(), &exec, &err);
  cr_assert_eq(st, AP_OK, "session_open: %s", err.msg);
  st = session_run(s, 0, ex->epochs, &err);
  cr_assert_eq(st, AP_OK, "session_run: %s", err.msg);
  st = session_pull(s, &err);
  cr_assert_eq(st, AP_OK, "session_pull: %s", err.msg);
}

void th_run_cut(Session *s, const ApExperiment *ex, const ApExec *exec, long long every) {
  ApError err = {{0}};
  cr_assert_eq(session_open(s, ex, ap_backend_cpu(), exec, &err), AP_OK, "%s", err.msg);
  const long long U = s->units, end = (long long)ex->epochs * U;
  size_t nf = (size_t)s->R * (size_t)s->lay->n_floats,
         ns = (size_t)s->R * (size_t)s->E * (size_t)s->lay->series_width;
  float *state = malloc(nf * sizeof *state), *series = malloc((ns ? ns : 1) * sizeof *series);
  cr_assert(state && series);
  for (long long at = 0; at < end;) {
    long long to = at + every < end ? at + every : end;
    cr_assert_eq(session_advance(s, ap_pos_at(at, U), ap_pos_at(to, U), &err), AP_OK, "%s",
                 err.msg);
    cr_assert_eq(session_pull(s, &err), AP_OK, "%s", err.msg);
    uint32_t *pairs = NULL;
    uint64_t *start = NULL;
    cr_assert_eq(session_events(s, &pairs, &start, &err), AP_OK, "%s", err.msg);
    memcpy(state, s->state, nf * sizeof *state);
    memcpy(series, s->series, ns * sizeof *series);
    /* a new session in s's place (its cohorts point into it: never copy a Session) */
    session_close(s);
    cr_assert_eq(session_open(s, ex, ap_backend_cpu(), exec, &err), AP_OK, "%s", err.msg);
    memcpy(s->state, state, nf * sizeof *state);
    memcpy(s->series, series, ns * sizeof *series);
    cr_assert_eq(session_push(s, &err), AP_OK, "%s", err.msg);
    cr_assert_eq(session_set_events(s, pairs, start, &err), AP_OK, "%s", err.msg);
    free(pairs);
    free(start);
    at = to;
  }
  free(state);
  free(series);
}

/* The temporary directories of this (test) process, removed when it exits. */
static char made[16][512];
static int n_made;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_made(void) {
  const char *keep = getenv("APICAL_KEEP_TEST_DIRS");
  if (keep && *keep && strcmp(keep, "0")) return;
  for (int i = 0; i < n_made; i++) nftw(made[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void th_tempdir(char *out, size_t n) {
  const char *base = getenv("TMPDIR");
  snprintf(out, n, "%s/apical-test-XXXXXX", base && *base ? base : "/tmp");
  cr_assert_not_null(mkdtemp(out), "mkdtemp failed");
  if (n_made < 16 && strlen(out) < sizeof made[0]) {
    if (!n_made) atexit(remove_made);
    snprintf(made[n_made++], sizeof made[0], "%s", out);
  }
}

int th_program(const char *dir, const char *env, const char *program, const char *args, char *err,
               size_t n) {
  char cmd[4096], errp[512];
  snprintf(errp, sizeof errp, "%s/stderr", dir);
  snprintf(cmd, sizeof cmd, "cd %s && %s %s %s >%s/stdout 2>%s", dir, env ? env : "", program, args,
           dir, errp);
  int rc = system(cmd);
  FILE *f = fopen(errp, "r");
  size_t got = f ? fread(err, 1, n - 1, f) : 0;
  err[got] = '\0';
  if (f) fclose(f);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void th_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot write %s", path);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

void th_file(const char *dir, const char *name, const char *text) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  th_write(p, text, strlen(text));
}

void th_write_idx(const char *path, int rank, const unsigned *dims, const unsigned char *data,
                  size_t n) {
  size_t head = 4 + 4 * (size_t)rank;
  unsigned char *buf = malloc(head + n), *p = buf;
  cr_assert_not_null(buf);
  *p++ = 0, *p++ = 0, *p++ = 0x08, *p++ = (unsigned char)rank;
  for (int i = 0; i < rank; i++)
    *p++ = (unsigned char)(dims[i] >> 24), *p++ = (unsigned char)(dims[i] >> 16),
    *p++ = (unsigned char)(dims[i] >> 8), *p++ = (unsigned char)dims[i];
  if (n) memcpy(p, data, n);
  th_write(path, buf, head + n);
  free(buf);
}

float th_series(const Session *s, const char *name, int r, int e, int h) {
  const ApSeries *se = ap_layout_series(s->lay, name);
  cr_assert_not_null(se, "no series %s", name);
  cr_assert_lt(h, se->shape[0]);
  return session_record(s, r, e)[se->offset + h];
}

const McParams *th_mc(const ApExperiment *ex, int r) {
  cr_assert_str_eq(ex->model->name, "microcircuit");
  return config_params(ex, r);
}
