/* apical report: hands over to `PYTHON -m apical report ...` (host/report.h). Why Python:
 * the figures are matplotlib's, shared with apical.plot and tools/ (python/apical/style.py);
 * drawing them in C would be a second plotting library to keep in step. */
#define _POSIX_C_SOURCE 200809L
#include "host/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EX_USAGE_ 64
#define EX_UNAVAILABLE_ 69

/* Whether `python` (a path, or a name looked up on PATH) imports what the report needs. */
static int python_can_report(const char *python) {
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    FILE *null = freopen("/dev/null", "w", stdout);
    if (null) null = freopen("/dev/null", "w", stderr);
    (void)null;
    char *args[] = {(char *)python, "-c", "import apical.report, h5py, matplotlib", NULL};
    execvp(python, args);
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int report_command(int argc, char **argv) {
  if (argc < 3 || !strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) {
    fprintf(argc < 3 ? stderr : stdout,
            "usage: apical report RUN [-o PAGE.html]\n"
            "\n"
            "Writes RUN/report.html: one self-contained page (figures embedded, no network) with\n"
            "the learning curves by swept key, the headline against each swept key, the model's\n"
            "own panels (rate against spiking, Conn curves and rasters, generated digits), the\n"
            "timing and the configuration. It reads the records finished so far, so it works\n"
            "while the run is still going. RUN: a run directory or its results.h5.\n"
            "\n"
            "It is drawn by the Python package (matplotlib): the first of $APICAL_PYTHON, the\n"
            "python3 beside this program (pip install . puts both in one environment), python3\n"
            "on PATH and /usr/bin/python3 that imports apical, h5py and matplotlib (a clone's\n"
            "python/ is added to PYTHONPATH when this program is its build/apical).\n"
            "\n"
            "exit codes: 0 written, 64 usage, 65 bad data, 66 missing input, 69 no Python that\n"
            "can draw it\n");
    return argc < 3 ? EX_USAGE_ : 0;
  }
  /* where this program lives: a venv's bin/ (pip install .) or a clone's build/ */
  char exe[4096] = "", dir[4096] = "", cand[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    snprintf(dir, sizeof dir, "%s", exe);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
  }
  if (*dir) {
    snprintf(cand, sizeof cand, "%s/../python/apical/report.py", dir);
    if (is_file(cand)) {
      char path[8192];
      const char *old = getenv("PYTHONPATH");
      snprintf(path, sizeof path, "%s/../python%s%s", dir, old && *old ? ":" : "", old ? old : "");
      setenv("PYTHONPATH", path, 1);
    }
  }
  const char *tries[5];
  int nt = 0;
  char beside[4096] = "";
  const char *given = getenv("APICAL_PYTHON");
  if (given && *given) tries[nt++] = given;
  if (*dir) {
    snprintf(beside, sizeof beside, "%s/python3", dir);
    if (is_file(beside)) tries[nt++] = beside;
  }
  tries[nt++] = "python3";
  tries[nt++] = "/usr/bin/python3";
  for (int i = 0; i < nt; i++) {
    if (!python_can_report(tries[i])) continue;
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) break;
    args[0] = (char *)tries[i];
    args[1] = "-m";
    args[2] = "apical";
    for (int k = 1; k < argc; k++) args[k + 2] = argv[k]; /* "report" RUN ... */
    fflush(NULL);
    execvp(tries[i], args);
    fprintf(stderr, "apical report: cannot start %s\n", tries[i]);
    free(args);
    return EX_UNAVAILABLE_;
  }
  fprintf(stderr, "apical report: no Python here imports apical, h5py and matplotlib (tried");
  for (int i = 0; i < nt; i++) fprintf(stderr, "%s %s", i ? "," : "", tries[i]);
  fprintf(stderr, "); install them with the program (pip install '.[plot]' in a clone), or on "
                  "Debian apt-get install python3-h5py python3-matplotlib, or name one with "
                  "APICAL_PYTHON\n");
  return EX_UNAVAILABLE_;
}
