/* libFuzzer: apical's command line (host/main.c, built in here with its main renamed):
 * `apical run FILE OPTIONS --print-config` with OPTIONS from arbitrary bytes, one per line,
 * --set included, so that option parsing, --set (ini_set), the checks of every model and
 * the configuration dump are fuzzed together. --print-config last: nothing is run or
 * written. The experiment file is picked by the first byte from one per model. Exits with
 * a code or returns; no crash, leak or hang. tools/fuzz.sh runs it over
 * tests/fuzz/corpus/opts. */
#define main apical_main
#include "../../host/main.c"
#undef main

#include <stdint.h>

static const char *const files[] = {
    "[experiment]\nname = fz\nmodel = microcircuit\n[train]\nepochs = 2\n[model]\nt_pres = 3\n"
    "[sweep]\nseed = 1..2\n",
    "[experiment]\nname = fz\nmodel = lif_stdp\n[model]\nn_pyr = 4\nn_pv = 2\n[train]\n"
    "epochs = 2\nrecord_ms = 1\n",
    "[experiment]\nname = fz\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 2\n"
    "presentations = 1\ntest_samples = 2\ntrain_eval = 2\n[model]\npixels = 9\nlabels = 3\n"
    "hidden = 3\n",
};

/* Options whose value is the next argument: the fuzz bytes may not name another file (a
 * FIFO or /dev/zero would hang the reader, which is not what is fuzzed here). */
static int takes_value(const char *a) {
  static const char *const with[] = {"--set",        "--backend", "--threads", "--cuda-kernel",
                                     "--cpu-kernel", "--out",     "--shard"};
  for (size_t i = 0; i < sizeof with / sizeof *with; i++)
    if (!strcmp(a, with[i])) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char paths[3][64];
  if (!paths[0][0]) {
    config_limit_replicas(2000); /* sweeps past this are refused like past the real limit */
    for (int i = 0; i < 3; i++) {
      snprintf(paths[i], sizeof paths[i], "/tmp/apical-fuzz-opts-%ld-%d.ini", (long)getpid(), i);
      FILE *f = fopen(paths[i], "w");
      if (!f || fputs(files[i], f) < 0) abort();
      fclose(f);
    }
    if (!freopen("/dev/null", "w", stdout)) abort(); /* the printed configurations */
  }
  if (size < 1) return 0;
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  char *argv[80];
  int argc = 0;
  argv[argc++] = "apical";
  argv[argc++] = "run";
  argv[argc++] = paths[data[0] % 3];
  int value_next = 0;
  for (char *save = NULL, *a = strtok_r(text, "\n", &save); a && argc < 76;
       a = strtok_r(NULL, "\n", &save)) {
    if (!value_next && a[0] != '-') continue; /* a second file */
    value_next = !value_next && takes_value(a);
    argv[argc++] = a;
  }
  if (value_next) argc--; /* an option without its value: the parser's own case, fuzzed too */
  argv[argc++] = "--print-config";
  argv[argc] = NULL;
  cmd_run(argc, argv, "fuzz");
  free(text);
  return 0;
}
