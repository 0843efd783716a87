/* The apical program: exit codes (sysexits), one-line errors, help. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define MC "[experiment]\nmodel = microcircuit\n"

static char dir[256];
static void setup(void) { th_tempdir(dir, sizeof dir); }

/* Runs apical with args in dir; returns the exit code and stderr's text. */
static int apical(const char *args, char *err_text, size_t n) {
  return th_program(dir, NULL, APICAL_BINARY, args, err_text, n);
}

static void one_line(const char *text) {
  cr_assert(strlen(text) > 0 && strchr(text, '\n') == text + strlen(text) - 1,
            "expected exactly one line on stderr, got:\n%s", text);
}

Test(cli, help_and_version, .init = setup) {
  char e[4096];
  cr_assert_eq(apical("--help", e, sizeof e), 0);
  cr_assert_eq(apical("run --help", e, sizeof e), 0);
  cr_assert_eq(apical("--version", e, sizeof e), 0);
  cr_assert_eq(apical("", e, sizeof e), 64);
  cr_assert_eq(apical("fly", e, sizeof e), 64);
  one_line(e);
}

static char *read_file(const char *name) {
  static char buf[1 << 16];
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

Test(cli, models_and_their_keys_are_listed, .init = setup) {
  char e[4096];
  cr_assert_eq(apical("models", e, sizeof e), 0);
  const char *out = read_file("stdout");
  cr_assert(strstr(out, "microcircuit") && strstr(out, "original | le"), "%s", out);
  cr_assert_eq(apical("models microcircuit", e, sizeof e), 0);
  out = read_file("stdout");
  cr_assert(strstr(out, "eta_up") && strstr(out, "reset_between_samples"), "%s", out);
  cr_assert_eq(apical("models hopfield", e, sizeof e), 64);
  one_line(e);
  /* every key with its default and unit */
  cr_assert(strstr(out, "dims") && strstr(out, "9, 30, 3"), "%s", out);
  cr_assert_eq(apical("models lif_stdp", e, sizeof e), 0);
  out = read_file("stdout");
  const char *line = strstr(out, "\n    tau_m ");
  cr_assert(line, "%s", out);
  cr_assert(strstr(line, " 10 ms ") && strstr(line, " 10 ms ") < strchr(line + 1, '\n'),
            "tau_m's default and unit: %.*s", (int)(strchr(line + 1, '\n') - line), line);
  line = strstr(out, "\n    w_l23pv_l23pyr ");
  cr_assert(line && strstr(line, " -40 pA ") && strstr(line, " -40 pA ") < strchr(line + 1, '\n'),
            "%s", out);
  /* run --help lists every model's keys from its key table */
  cr_assert_eq(apical("run --help", e, sizeof e), 0);
  out = read_file("stdout");
  cr_assert(strstr(out, "model = microcircuit") && strstr(out, "w_max_hidden") &&
                strstr(out, "dims"),
            "%s", out);
}

Test(cli, bad_input_gives_one_line_and_a_sysexits_code, .init = setup) {
  char e[4096];
  cr_assert_eq(apical("run nothing.ini", e, sizeof e), 66);
  one_line(e);
  cr_assert(strstr(e, "nothing.ini"));
  th_file(dir, "bad.ini", "[model]\ngl = oops\n" MC);
  cr_assert_eq(apical("run bad.ini", e, sizeof e), 78);
  one_line(e);
  cr_assert(strstr(e, "bad.ini:2"), "%s", e);
  th_file(dir, "ok.ini", "[train]\nepochs = 2\n" MC);
  cr_assert_eq(apical("run ok.ini --set model.gb=-1", e, sizeof e), 78);
  cr_assert(strstr(e, "--set model.gb=-1"), "%s", e);
  cr_assert_eq(apical("run ok.ini --set gb=1", e, sizeof e), 64);
  cr_assert_eq(apical("run ok.ini --threads 0", e, sizeof e), 64);
  cr_assert_eq(apical("run ok.ini --backend tpu", e, sizeof e), 64);
  cr_assert_eq(apical("run ok.ini --wat", e, sizeof e), 64);
  cr_assert_eq(apical("run ok.ini --resume --force", e, sizeof e), 64);
  cr_assert_eq(apical("run ok.ini --resume", e, sizeof e), 66);
  cr_assert_eq(apical("run ok.ini --out ''", e, sizeof e), 64);
  cr_assert(strstr(e, "--out: empty directory name"), "%s", e);
  /* nothing was half-written by the failures */
  char p[512];
  snprintf(p, sizeof p, "%s/runs/ok/results.h5", dir);
  cr_assert_null(fopen(p, "r"));
}

Test(cli, a_run_writes_results_and_refuses_to_overwrite_them, .init = setup) {
  char e[8192];
  th_file(dir, "ok.ini", "[train]\nepochs = 3\n[model]\nt_pres = 5\n[sweep]\nseed = 1, 2\n" MC);
  cr_assert_eq(apical("run ok.ini --backend cpu", e, sizeof e), 0, "%s", e);
  char p[512];
  snprintf(p, sizeof p, "%s/runs/ok/results.h5", dir);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f);
  fclose(f);
  cr_assert_eq(apical("run ok.ini", e, sizeof e), 73);
  one_line(e);
  cr_assert_eq(apical("run ok.ini --force --print-config", e, sizeof e), 0);
  cr_assert_eq(apical("run ok.ini --resume --set train.epochs=4", e, sizeof e), 0, "%s", e);
  cr_assert_eq(apical("run ok.ini --resume --set train.epochs=4", e, sizeof e), 0, "%s", e);
  cr_assert(strstr(e, "already finished its 4 epochs"), "%s", e);
  /* a checkpoint past the file's epochs: the key is named, with what to pass */
  cr_assert_eq(apical("run ok.ini --resume --set train.epochs=2", e, sizeof e), 78, "%s", e);
  one_line(e);
  cr_assert(strstr(e, "--set train.epochs=4 or more"), "%s", e);
  cr_assert_eq(apical("run ok.ini --resume", e, sizeof e), 78, "%s", e);
  cr_assert(strstr(e, "holds 4 epochs, more than this run's [train] epochs = 3"), "%s", e);
}
