/* Nothing lost, nothing silent: a full disk, temp files of killed writes, two runs on one
 * directory, kill -9 at random points, and the checkpoints a run keeps. Through the
 * apical program, as a user meets it. */
#include "helpers.h"
#include "host/h5io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static void setup(void) { th_tempdir(dir, sizeof dir); }

/* Runs `env apical args` in dir; returns the exit code, stderr in err. */
static int apical(const char *env, const char *args, char *err, size_t n) {
  return th_program(dir, env, APICAL_BINARY, args, err, n);
}

static int exists(const char *rel) {
  char p[512];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  return stat(p, &sb) == 0;
}

static char *slurp(const char *rel) {
  static char buf[1 << 16];
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f, "cannot read %s", p);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* Files whose names contain ".tmp." anywhere under dir/rel. */
static int temp_files(const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  DIR *d = opendir(p);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
  if (d) closedir(d);
  return n;
}

#define MC "[experiment]\nmodel = microcircuit\n"
static const char *small =
    MC "[train]\nepochs = 4\n[output]\ncheckpoint_every = 2\nkeep_checkpoints = 9\n"
       "[model]\nt_pres = 10\n[sweep]\nseed = 1..3\nvariant = le, original\n";

/* The state and series a checkpoint holds, for bitwise comparison. */
typedef struct Snapshot {
  float *state, *series;
  size_t n_state, n_series;
  int done;
} Snapshot;

static Snapshot snapshot(const char *ini_text, const char *ckpt_rel) {
  ApExperiment ex;
  th_experiment(&ex, ini_text);
  Snapshot s = {0};
  s.n_state = (size_t)ex.n_replicas * (size_t)ex.layout.n_floats;
  s.n_series = (size_t)ex.n_replicas * (size_t)ex.epochs * (size_t)ex.layout.series_width;
  s.state = calloc(s.n_state, sizeof(float));
  s.series = calloc(s.n_series, sizeof(float));
  char p[512], *dump = NULL;
  snprintf(p, sizeof p, "%s/%s", dir, ckpt_rel);
  ApError err = {{0}};
  cr_assert_eq(ckpt_read(p, &ex, s.state, s.series, &s.done, &dump, &err), AP_OK, "%s", err.msg);
  free(dump);
  config_free(&ex);
  return s;
}

static void same(Snapshot a, Snapshot b, const char *what) {
  cr_assert_eq(a.done, b.done, "%s: %d against %d epochs", what, a.done, b.done);
  cr_assert_eq(memcmp(a.state, b.state, a.n_state * sizeof(float)), 0, "%s: the states differ",
               what);
  cr_assert_eq(memcmp(a.series, b.series, a.n_series * sizeof(float)), 0, "%s: the series differ",
               what);
  free(a.state), free(a.series), free(b.state), free(b.series);
}

Test(robust, a_full_disk_exits_74_keeps_the_last_checkpoint_and_resumes, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", small);
  /* the third temporary file (the results after epoch 2) meets a full disk */
  char env[700];
  snprintf(env, sizeof env,
           "LD_PRELOAD=%s APICAL_TEST_ENOSPC_AFTER=2 ASAN_OPTIONS=verify_asan_link_order=0",
           APICAL_FAULT_ENOSPC);
  cr_assert_eq(apical(env, "run x.ini --out a --backend cpu", e, sizeof e), 74, "%s", e);
  cr_assert(strstr(e, "a/results.h5: writing the results failed: No space left on device"), "%s",
            e);
  cr_assert(strstr(slurp("a/log.txt"), "No space left on device"), "the error is not in log.txt");
  cr_assert(exists("a/checkpoints/epoch-000000000.h5") &&
            exists("a/checkpoints/epoch-000000002.h5"));
  cr_assert_eq(temp_files("a") + temp_files("a/checkpoints"), 0, "a temporary file stayed behind");
  /* the kept checkpoint resumes to the numbers of an uninterrupted run */
  cr_assert_eq(apical(NULL, "run x.ini --out a --backend cpu --resume", e, sizeof e), 0, "%s", e);
  cr_assert_eq(apical(NULL, "run x.ini --out b --backend cpu", e, sizeof e), 0, "%s", e);
  same(snapshot(small, "a/checkpoints/epoch-000000004.h5"),
       snapshot(small, "b/checkpoints/epoch-000000004.h5"), "resumed after a full disk");
}

Test(robust, temporary_files_of_dead_processes_are_removed, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", small);
  cr_assert_eq(apical(NULL, "run x.ini --out a --backend cpu", e, sizeof e), 0, "%s", e);
  /* a killed write's leftovers (no such process), and one of a live process (init) */
  th_file(dir, "a/results.h5.tmp.2147483600", "half a file");
  th_file(dir, "a/checkpoints/epoch-000000004.h5.tmp.2147483601", "half a file");
  th_file(dir, "a/checkpoints/epoch-000000004.h5.tmp.1", "someone else's");
  cr_assert_eq(
      apical(NULL, "run x.ini --out a --backend cpu --resume --set train.epochs=6", e, sizeof e), 0,
      "%s", e);
  cr_assert(!exists("a/results.h5.tmp.2147483600") &&
            !exists("a/checkpoints/epoch-000000004.h5.tmp.2147483601"));
  cr_assert(exists("a/checkpoints/epoch-000000004.h5.tmp.1"), "removed a live process's file");
}

Test(robust, a_second_run_on_the_same_directory_is_refused, .init = setup) {
  char e[8192], p[512];
  th_file(dir, "x.ini", small);
  cr_assert_eq(apical(NULL, "run x.ini --out a --backend cpu --set train.epochs=2", e, sizeof e), 0,
               "%s", e);
  /* a finished run leaves no lock file behind */
  cr_assert(!exists("a/.lock"), "a finished run left a/.lock");
  /* this process holds the lock, as a running apical would */
  snprintf(p, sizeof p, "%s/a/.lock", dir);
  int fd = open(p, O_RDWR | O_CREAT, 0644);
  cr_assert_geq(fd, 0);
  cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  cr_assert_eq(ftruncate(fd, 0), 0);
  cr_assert_eq(pwrite(fd, pid, (size_t)len, 0), len);
  cr_assert_eq(
      apical(NULL, "run x.ini --out a --backend cpu --resume --set train.epochs=4", e, sizeof e),
      73, "%s", e);
  char want[64];
  snprintf(want, sizeof want, "(process %ld)", (long)getpid());
  cr_assert(strstr(e, "in use by another apical run") && strstr(e, want), "%s", e);
  close(fd);
  cr_assert_eq(
      apical(NULL, "run x.ini --out a --backend cpu --resume --set train.epochs=4", e, sizeof e), 0,
      "%s", e);
  cr_assert(!exists("a/.lock"), "a resumed run left a/.lock");
}

Test(robust, the_initial_checkpoint_is_never_pruned, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini",
          MC "[train]\nepochs = 5\n[output]\ncheckpoint_every = 1\nkeep_checkpoints = "
             "2\n[model]\nt_pres = 5\n");
  cr_assert_eq(apical(NULL, "run x.ini --out a --backend cpu", e, sizeof e), 0, "%s", e);
  cr_assert(exists("a/checkpoints/epoch-000000000.h5"), "the initial state was pruned");
  cr_assert(exists("a/checkpoints/epoch-000000004.h5") &&
            exists("a/checkpoints/epoch-000000005.h5"));
  cr_assert(!exists("a/checkpoints/epoch-000000003.h5") &&
            !exists("a/checkpoints/epoch-000000001.h5"));
}

Test(robust, resume_names_what_changed, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", small);
  cr_assert_eq(apical(NULL, "run x.ini --out a --backend cpu", e, sizeof e), 0, "%s", e);
  /* more replicas: the sweep line is named */
  cr_assert_eq(
      apical(NULL, "run x.ini --out a --backend cpu --resume --set sweep.seed=1..4", e, sizeof e),
      78, "%s", e);
  cr_assert(strstr(e, "it has 'seed = 1..3', this run 'seed = 1..4'"), "%s", e);
  /* a changed parameter */
  cr_assert_eq(
      apical(NULL, "run x.ini --out a --backend cpu --resume --set model.gl=0.04", e, sizeof e), 78,
      "%s", e);
  cr_assert(strstr(e, "'gl = 0.03'") && strstr(e, "'gl = 0.04'"), "%s", e);
}

Test(robust, errors_after_the_start_reach_the_log, .init = setup) {
  char e[8192];
  /* a replica's check against the loaded data fails when its cohort is created */
  th_file(dir, "x.ini", MC "[train]\nepochs = 1\nval_samples = 9\n");
  cr_assert_eq(apical(NULL, "run x.ini --out a --backend cpu", e, sizeof e), 78, "%s", e);
  cr_assert(strstr(slurp("a/log.txt"), "val_samples = 9"), "the error is not in log.txt");
  /* the dataset is loaded before the run starts (its memory counts): a missing one
   * leaves nothing behind */
  th_file(
      dir, "y.ini",
      MC
      "[experiment]\ndataset = idx\n[data]\ntrain_images = nowhere.gz\ntrain_labels = nowhere.gz\n"
      "test_images = nowhere.gz\ntest_labels = nowhere.gz\n[model]\ndims = 784, 10, 10\n");
  cr_assert_eq(apical(NULL, "run y.ini --out b --backend cpu", e, sizeof e), 66, "%s", e);
  cr_assert(strstr(e, "nowhere.gz"), "%s", e);
  struct stat sb;
  char p[600];
  snprintf(p, sizeof p, "%s/b", dir);
  cr_assert_neq(stat(p, &sb), 0, "a run refused up front created %s", p);
}

Test(robust, auto_on_a_machine_without_a_gpu_says_nothing_about_cuda, .init = setup) {
  const ApBackend *cuda = ap_backend_cuda();
  ApError why = {{0}};
  if (cuda && cuda->probe(&why) == AP_OK) cr_skip_test("a GPU answers here");
  char e[8192];
  th_file(dir, "x.ini", MC "[train]\nepochs = 1\n[model]\nt_pres = 3\n");
  cr_assert_eq(apical(NULL, "run x.ini --out a", e, sizeof e), 0, "%s", e);
  cr_assert_null(strstr(e, "CUDA"), "stderr talks about CUDA:\n%s", e);
  cr_assert_null(strstr(e, "cuda"), "stderr talks about CUDA:\n%s", e);
}

Test(robust, more_threads_than_cores_are_warned_about, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", MC "[train]\nepochs = 1\n[model]\nt_pres = 3\n");
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  char args[128];
  snprintf(args, sizeof args, "run x.ini --out a --backend cpu --threads %ld", cores * 4);
  cr_assert_eq(apical(NULL, args, e, sizeof e), 0, "%s", e);
  cr_assert(strstr(e, "warning: --threads"), "%s", e);
}

/* kill -9 at random points (three times, each within the first second of a run of about
 * two seconds on one core), then resume: the same bits as a run that was never interrupted. */
Test(robust, kill_9_at_random_points_then_resume_is_bit_identical, .init = setup, .timeout = 240) {
  static const char *text =
      MC "[train]\nepochs = 30\n[output]\ncheckpoint_every = 1\nkeep_checkpoints = 3\n"
         "[model]\nt_pres = 1500\n[sweep]\nseed = 1..6\nvariant = le, original\n";
  char e[8192];
  th_file(dir, "x.ini", text);
  cr_assert_eq(apical(NULL, "run x.ini --out straight --backend cpu", e, sizeof e), 0, "%s", e);
  unsigned seed = (unsigned)time(NULL);
  cr_log_info("kill -9 points drawn with seed %u", seed);
  srand(seed);
  int kills = 0;
  for (int round = 0; round < 3; round++) {
    int resume = exists("killed/checkpoints/epoch-000000000.h5");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
      if (chdir(dir) != 0) _exit(100);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1), dup2(null, 2);
      execl(APICAL_BINARY, APICAL_BINARY, "run", "x.ini", "--out", "killed", "--backend", "cpu",
            resume ? "--resume" : "--force", (char *)NULL);
      _exit(101);
    }
    struct timespec t = {0, (long)(50 + rand() % 950) * 1000000L};
    nanosleep(&t, NULL);
    int status;
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      kills++;
    } else {
      cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
      break; /* it finished first */
    }
  }
  cr_log_info("killed %d times", kills);
  cr_assert_gt(kills, 0, "the run finished before any kill; the test lost its case");
  cr_assert_eq(apical(NULL, "run x.ini --out killed --backend cpu --resume", e, sizeof e), 0, "%s",
               e);
  same(snapshot(text, "killed/checkpoints/epoch-000000030.h5"),
       snapshot(text, "straight/checkpoints/epoch-000000030.h5"), "after kill -9 and resume");
}

Test(robust, a_run_too_big_for_memory_is_refused_before_anything_is_written, .init = setup) {
  char e[8192];
  /* 1000 replicas of a 784-100000-10 network: about a terabyte */
  th_file(dir, "x.ini",
          MC "[experiment]\ndataset = random\n[model]\ndims = 784, 100000, 10\neta_up = 0.1, 0.1\n"
             "eta_ip = 0.1\n[sweep]\nseed = 1..1000\n");
  cr_assert_eq(apical(NULL, "run x.ini --out big --backend cpu", e, sizeof e), 71, "%s", e);
  cr_assert(strstr(e, "the run needs about") && strstr(e, "are available"), "%s", e);
  cr_assert(!exists("big"), "a run folder was left behind");
}
