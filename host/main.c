/* apical's command line. Library code returns statuses; this file alone turns them into
 * one line on stderr and a sysexits.h exit code. */
#include "host/config.h"
#include "host/h5io.h"
#include "host/ini.h"
#include "host/merge.h"
#include "host/report.h"
#include "host/run.h"
#include "host/session.h"
#include "kernels/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage_main(FILE *f) {
  fprintf(f,
          "apical %s - batch trainer for biologically plausible learning\n"
          "\n"
          "usage:\n"
          "  apical run FILE.ini [options]   run an experiment (apical run --help)\n"
          "  apical estimate FILE.ini [...]  replicas, cohorts, memory and wall time of a run,\n"
          "                                  without running it (apical estimate --help)\n"
          "  apical merge DIR... [options]   join the shards of a run (apical merge --help)\n"
          "  apical models                   the models, their variants and keys\n"
          "  apical report RUN               a run's report: one HTML page, also while it runs\n"
          "                                  (apical report --help)\n"
          "  apical --version\n"
          "  apical --help\n"
          "\n"
          "Experiments live in experiments/*.ini; results go to runs/NAME/results.h5\n"
          "(layout: docs/file-format.md); apical report RUN draws them.\n",
          APICAL_VERSION);
}

static void usage_run(FILE *f) {
  fprintf(
      f, "usage: apical run FILE.ini [options]\n"
         "\n"
         "Runs every replica of the experiment (the cross product of its [sweep]) to the last\n"
         "epoch, writing DIR/results.h5, DIR/checkpoints/ and DIR/log.txt.\n"
         "\n"
         "options:\n"
         "  --set SECTION.KEY=VALUE  override a key of the file (repeatable), e.g.\n"
         "                           --set train.epochs=10 --set sweep.seed=1..3\n"
         "  --backend auto|cpu|cuda  auto (default) uses a GPU when one answers\n"
         "  --threads N              CPU threads (default: all cores); fewer replicas than\n"
         "                           threads: a large replica runs on a team of threads, a\n"
         "                           small one on one thread (README); same numbers\n"
         "  --cuda-kernel NAME       auto (default) or a CUDA kernel version of the model\n"
         "                           (microcircuit: generic, warp, wide; mstdp: generic, rows16);\n"
         "                           same numbers, other speed\n"
         "  --cpu-kernel NAME        auto (default) or a CPU kernel version of the model\n"
         "                           (microcircuit: lanes, wide; mstdp: fused, blas where the\n"
         "                           build found OpenBLAS; blas, and lanes on a network with\n"
         "                           64 or more inputs to a layer, sum in another order:\n"
         "                           close, not the same bits)\n"
         "  --out DIR                run directory (default: runs/NAME; with --shard:\n"
         "                           runs/NAME/shard-I-of-N)\n"
         "  --shard I/N              run shard I (0 .. N-1) of N: a fixed subset of the\n"
         "                           replicas, balanced by cost; apical merge joins the shards'\n"
         "                           run directories into the results of the whole experiment\n"
         "  --resume                 continue from the newest checkpoint in DIR; [train] epochs\n"
         "                           may be raised, nothing else may change\n"
         "  --force                  start over in a DIR that already holds a run\n"
         "  --print-config           print the effective configuration and exit\n"
         "  --dry-run                print the estimate (apical estimate) and exit\n"
         "  --no-memory-check        run even where the estimate says the memory does not fit\n"
         "                           (host: MemAvailable or the memory cgroup's limit;\n"
         "                           CUDA: the device's free memory)\n"
         "  -h, --help               this text\n"
         "\n"
         "exit codes: 0 done, 64 usage, 65 bad data, 66 missing input, 69 backend unavailable,\n"
         "70 internal error, 71 out of memory (or refused up front: the run would not fit), 73\n"
         "cannot create output, 74 I/O error (disk full: the previous checkpoint stays intact),\n"
         "78 bad configuration, 130 interrupted by SIGINT (Ctrl-C), 143 stopped by SIGTERM\n"
         "(the log says what was written; continue with --resume where a checkpoint was).\n"
         "The checks come before DIR is touched: a refused run, --force included, deletes and\n"
         "creates nothing.\n"
         "\n"
         "keys of an experiment file (docs/experiment-files.md):\n");
  config_print_keys(f, NULL);
}

static void usage_estimate(FILE *f) {
  fprintf(f,
          "usage: apical estimate FILE.ini [options]   (or: apical run FILE.ini --dry-run)\n"
          "\n"
          "Prints what `apical run` would run, without running it or creating anything: the\n"
          "replicas and cohorts (each with its replicas and the keys that make its schedule),\n"
          "the work in replica-steps, the host memory of the run on each backend (state,\n"
          "series, replica tables, dataset, the checkpoint/results image, the backend's own)\n"
          "and the device memory on CUDA, against what is available, and the wall time:\n"
          "extrapolated from a short run (about 2 s) of the same experiment, cut to its first\n"
          "records and samples, on the backend the run would take. The calibration writes\n"
          "nothing.\n"
          "\n"
          "options: --set, --backend, --threads, --cuda-kernel, --cpu-kernel, --shard and --out\n"
          "as for apical run (apical run --help).\n"
          "\n"
          "`apical run` refuses a run whose memory does not fit, up front (exit 71): host memory\n"
          "against MemAvailable (/proc/meminfo), or the memory cgroup's limit less its usage\n"
          "where smaller (Slurm's --mem), plus what apical holds already, device memory\n"
          "against the device's free memory; `apical run --no-memory-check` runs it anyway.\n"
          "APICAL_MEM_AVAILABLE=BYTES replaces the host figure (for tests, and for machines\n"
          "whose /proc/meminfo misleads, e.g. some containers).\n"
          "\n"
          "exit codes: 0 done, 64 usage, 66 missing input, 69 backend unavailable, 71 out of\n"
          "memory, 78 bad configuration.\n");
}

/* apical models [NAME]: the models with their variants; with a name, its keys too. */
static int cmd_models(int argc, char **argv) {
  const ApModel *only = NULL;
  if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
    printf("usage: apical models [NAME [--markdown]]   lists the models (with NAME: and that\n"
           "       model's keys, with their defaults and units; --markdown: the model's keys\n"
           "       as the table of docs/models/NAME.md)\n");
    return 0;
  }
  if (argc > 3 && !strcmp(argv[3], "--markdown")) {
    if (!(only = ap_model_find(argv[2]))) {
      fprintf(stderr, "apical: no model '%s' (apical models lists them)\n", argv[2]);
      return AP_ERR_USAGE;
    }
    config_print_keys_markdown(stdout, only);
    return 0;
  }
  if (argc > 2 && !(only = ap_model_find(argv[2]))) {
    fprintf(stderr, "apical: no model '%s' (apical models lists them)\n", argv[2]);
    return AP_ERR_USAGE;
  }
  for (int i = 0; i < ap_model_count(); i++) {
    const ApModel *m = ap_model_at(i);
    if (only && m != only) continue;
    const char *backends[2] = {"cpu", "cuda"};
    char on[32] = "";
    for (int b = 0; b < 2; b++)
      if (m->impl(backends[b]))
        snprintf(on + strlen(on), sizeof on - strlen(on), "%s%s", on[0] ? ", " : "", backends[b]);
    printf("%-14s %s\n%-14s %s\n%-14s backends: %s; one %s: %s%s\n", m->name, m->summary, "",
           m->variants, "", on, m->record, m->record_is,
           m->io ? "; datasets: bars, idx, random" : "");
  }
  if (only)
    config_print_keys(stdout, only);
  else
    printf("\n`apical models NAME` or `apical run --help` lists a model's keys.\n");
  return 0;
}

static int fail(ap_status st, const char *msg) {
  fprintf(stderr, "apical: %s\n", msg);
  return (int)st;
}

/* Accepts "--opt value" and "--opt=value". */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *bad) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n)) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, "apical: %s needs a value (apical run --help)\n", name);
    *bad = 1;
    return NULL;
  }
  return argv[++*i];
}

/* Keeps shard index/count of ex's replicas, balanced by the model's cost per replica. */
static ap_status shard(ApExperiment *ex, int index, int count, ApError *err) {
  ApDataset ds;
  memset(&ds, 0, sizeof ds);
  ap_status st = session_load_dataset(ex, &ds, err);
  if (st) return st;
  ApData data = ds_view(&ds);
  double *cost = malloc((size_t)ex->n_replicas * sizeof *cost);
  if (!cost) st = ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int r = 0; !st && r < ex->n_replicas; r++)
    cost[r] = ex->model->cost(config_params(ex, r), &data);
  if (!st) st = config_shard(ex, index, count, cost, err);
  free(cost);
  ds_free(&ds);
  return st;
}

/* What the command line of apical run (and of estimate) asks for. */
typedef struct RunArgs {
  const char *file, *sets[256];
  int n_sets, estimate, dry_run, print_config, shard_index, shard_count;
  RunOptions opt;
} RunArgs;

/* --threads N: 0, or the exit code of a refusal. */
static int threads_arg(const char *v, RunArgs *a) {
  char *end;
  long t = strtol(v, &end, 10);
  if (*end || t < 1 || t > 4096) {
    fprintf(stderr, "apical: --threads %s: expected a number of threads from 1 to 4096\n", v);
    return AP_ERR_USAGE;
  }
  a->opt.exec.threads = (int)t;
  return 0;
}

/* --shard I/N: 0, or the exit code of a refusal. */
static int shard_arg(const char *v, RunArgs *a) {
  char *end;
  long si = strtol(v, &end, 10), sn = *end == '/' ? strtol(end + 1, &end, 10) : 0;
  if (*end || v[0] == '/' || sn < 1 || sn > 1000000 || si < 0 || si >= sn) {
    fprintf(stderr, "apical: --shard %s: expected I/N with 0 <= I < N (e.g. --shard 0/4)\n", v);
    return AP_ERR_USAGE;
  }
  a->shard_index = (int)si, a->shard_count = (int)sn;
  return 0;
}

/* The options that go together, once all are read: -1 to go on, else the exit code. */
static int check_run_args(char **argv, RunArgs *a) {
  if (!a->file) {
    fprintf(stderr, "apical: %s needs an experiment file (apical %s --help)\n", argv[1], argv[1]);
    return AP_ERR_USAGE;
  }
  if (a->opt.resume && a->opt.force)
    return fail(AP_ERR_USAGE, "--resume and --force exclude each other");
  if (a->dry_run && a->opt.resume)
    return fail(AP_ERR_USAGE, "--dry-run estimates a fresh run; it does not take --resume");
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (a->opt.exec.threads > cores && cores > 0)
    fprintf(stderr,
            "apical: warning: --threads %d on a machine with %ld cores: more threads than cores "
            "only slow the CPU backend down\n",
            a->opt.exec.threads, cores);
  const char *be = a->opt.backend;
  if (strcmp(be, "auto") && strcmp(be, "cpu") && strcmp(be, "cuda")) {
    fprintf(stderr, "apical: --backend %s: expected auto, cpu or cuda\n", be);
    return AP_ERR_USAGE;
  }
  return -1;
}

/* Reads the command line into a: -1 to go on, else the exit code (0 after --help). */
static int run_args(int argc, char **argv, const char *command, RunArgs *a) {
  int estimate = a->estimate = !strcmp(argv[1], "estimate"), bad = 0, rc = 0;
  a->dry_run = estimate;
  a->opt = (RunOptions){.backend = "auto", .exec = {.threads = 0}, .command = command};
  for (int i = 2; i < argc && !bad && !rc; i++) {
    const char *arg = argv[i], *v;
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      (estimate ? usage_estimate : usage_run)(stdout);
      return 0;
    } else if (!estimate && !strcmp(arg, "--dry-run")) {
      a->dry_run = 1;
    } else if (!estimate && !strcmp(arg, "--no-memory-check")) {
      a->opt.no_memory_check = 1;
    } else if ((v = opt_value(argc, argv, &i, "--set", &bad))) {
      if (a->n_sets == 256) return fail(AP_ERR_USAGE, "too many --set options");
      a->sets[a->n_sets++] = v;
    } else if ((v = opt_value(argc, argv, &i, "--backend", &bad))) {
      a->opt.backend = v;
    } else if ((v = opt_value(argc, argv, &i, "--threads", &bad))) {
      rc = threads_arg(v, a);
    } else if ((v = opt_value(argc, argv, &i, "--cuda-kernel", &bad))) {
      a->opt.exec.cuda_version = v;
    } else if ((v = opt_value(argc, argv, &i, "--cpu-kernel", &bad))) {
      a->opt.exec.cpu_version = v;
    } else if ((v = opt_value(argc, argv, &i, "--out", &bad))) {
      a->opt.out_dir = v;
    } else if ((v = opt_value(argc, argv, &i, "--shard", &bad))) {
      rc = shard_arg(v, a);
    } else if (!estimate && !strcmp(arg, "--resume")) {
      a->opt.resume = 1;
    } else if (!estimate && !strcmp(arg, "--force")) {
      a->opt.force = 1;
    } else if (!estimate && !strcmp(arg, "--print-config")) {
      a->print_config = 1;
    } else if (!bad && arg[0] == '-') {
      fprintf(stderr, "apical: unknown option %s (apical %s --help)\n", arg, argv[1]);
      return AP_ERR_USAGE;
    } else if (!bad) {
      if (a->file) {
        fprintf(stderr, "apical: one experiment file per run (got %s and %s)\n", a->file, arg);
        return AP_ERR_USAGE;
      }
      a->file = arg;
    }
  }
  if (rc) return rc;
  if (bad) return AP_ERR_USAGE;
  return check_run_args(argv, a);
}

/* The experiment from its file, the --set values and --shard: -1 to go on, else the exit
 * code (nothing left allocated). */
static int load_experiment(const RunArgs *a, ApExperiment *ex) {
  ApError err = {{0}};
  Ini ini = {0};
  ap_status st = ini_load(&ini, a->file, &err);
  for (int i = 0; i < a->n_sets && !st; i++) st = ini_set(&ini, a->sets[i], &err);
  if (!st) st = config_build(ex, &ini, a->file, &err);
  ini_free(&ini);
  if (st) return fail(st, err.msg);
  if (a->shard_count && (st = shard(ex, a->shard_index, a->shard_count, &err))) {
    config_free(ex);
    return fail(st, err.msg);
  }
  return -1;
}

/* The run directory: --out, else runs/NAME (runs/NAME/shard-I-of-N for a shard). -1 to go
 * on, else the exit code. */
static int out_dir_of(const RunArgs *a, const ApExperiment *ex, char *out_dir, size_t n) {
  const char *out = a->opt.out_dir;
  if (out && !out[0]) return fail(AP_ERR_USAGE, "--out: empty directory name");
  if (out && strlen(out) >= n - 64) return fail(AP_ERR_USAGE, "--out: directory name too long");
  if (out)
    snprintf(out_dir, n, "%s", out);
  else if (a->shard_count)
    snprintf(out_dir, n, "runs/%s/shard-%d-of-%d", ex->name, a->shard_index, a->shard_count);
  else
    snprintf(out_dir, n, "runs/%s", ex->name);
  return -1;
}

/* --print-config: the effective configuration, after every check run would make. */
static int print_config(const RunArgs *a, const ApExperiment *ex) {
  ApError err = {{0}};
  ap_status st;
  if ((st = run_check(ex, &a->opt, &err))) return fail(st, err.msg);
  char *dump = config_dump(ex);
  int *cohort_of = malloc((size_t)ex->n_replicas * sizeof *cohort_of);
  int cohorts = cohort_of ? config_cohorts(ex, cohort_of) : -1;
  free(cohort_of);
  if (!dump || cohorts < 0) {
    free(dump);
    return fail(AP_ERR_OSERR, "out of memory");
  }
  printf("# effective configuration of %s\n# %d replica%s in %d cohort%s; output %s\n\n%s", a->file,
         ex->n_replicas, ex->n_replicas == 1 ? "" : "s", cohorts, cohorts == 1 ? "" : "s",
         a->opt.out_dir, dump);
  free(dump);
  return 0;
}

/* apical run, and apical estimate (which is apical run --dry-run). */
static int cmd_run(int argc, char **argv, const char *command) {
  RunArgs a;
  memset(&a, 0, sizeof a);
  int rc = run_args(argc, argv, command, &a);
  if (rc >= 0) return rc;
  ApExperiment ex;
  if ((rc = load_experiment(&a, &ex)) >= 0) return rc;
  char out_dir[AP_PATH_MAX];
  if ((rc = out_dir_of(&a, &ex, out_dir, sizeof out_dir)) < 0) {
    a.opt.out_dir = out_dir;
    rc = a.print_config ? print_config(&a, &ex) : -1;
  }
  if (rc >= 0) {
    config_free(&ex);
    return rc;
  }
  ApError err = {{0}};
  ap_status st = a.dry_run ? run_estimate(&ex, &a.opt, &err) : run_experiment(&ex, &a.opt, &err);
  config_free(&ex);
  if (st == AP_ERR_INTERRUPTED || st == AP_ERR_TERMINATED) return (int)st;
  if (st) return fail(st, err.msg);
  return 0;
}

static void usage_merge(FILE *f) {
  fprintf(f,
          "usage: apical merge DIR... [--out DIR] [--force] [--partial]\n"
          "\n"
          "Joins the run directories of an experiment's shards (apical run FILE.ini --shard I/N,\n"
          "one per I) into the results.h5 the unsharded run would have written: the same\n"
          "replicas in the same order, the same series, weights and parameter table, bit for\n"
          "bit (the command, the time written and the cohorts' busy seconds differ). Every\n"
          "shard must be there once, all of one experiment and after the same record; a DIR\n"
          "may also name a results.h5 itself.\n"
          "\n"
          "options:\n"
          "  --out DIR    where results.h5 goes (default: DIR of DIR/shard-I-of-N, the shards'\n"
          "               folder; else runs/NAME, NAME the experiment's)\n"
          "  --force      replace an existing DIR/results.h5\n"
          "  --partial    merge shards that are unfinished or still running (their results\n"
          "               so far), with a warning; the file says so (attribute partial)\n"
          "  -h, --help   this text\n"
          "\n"
          "example: apical merge runs/bars_tpres/shard-*-of-4\n");
}

/* Shards that a live run still holds (its lock), or that stopped before their last
 * record: refused (73, 78), or with partial a warning each and a note for the file. */
static ap_status merge_check_live(const char **dirs, int n, int partial, char *note,
                                  size_t note_n) {
  for (int i = 0; i < n; i++) {
    char dir[AP_PATH_MAX], holder[32], path[AP_PATH_MAX + 16], why[AP_PATH_MAX + 160] = "";
    struct stat sb;
    snprintf(dir, sizeof dir, "%s", dirs[i]);
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) { /* DIR/results.h5 given */
      char *slash = strrchr(dir, '/');
      snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - dirs[i]) : 1, slash ? dirs[i] : ".");
    }
    snprintf(path, sizeof path, "%s/results.h5", dir);
    ap_status st = AP_OK;
    if (run_dir_holder(dir, holder, sizeof holder)) {
      snprintf(why, sizeof why, "%s is still running (process %s holds its lock)", dir,
               holder[0] ? holder : "?");
      st = AP_ERR_CANTCREAT;
    } else {
      ShardFile f;
      ApError err = {{0}};
      if (!access(path, F_OK) && !shard_file_read(path, &f, &err)) {
        if (f.epochs_done < f.epochs) {
          snprintf(why, sizeof why, "%s stopped after %d of its %d records", dir, f.epochs_done,
                   f.epochs);
          st = AP_ERR_CONFIG;
        }
        shard_file_free(&f);
      }
    }
    if (!st) continue;
    if (!partial) {
      fprintf(stderr,
              "apical: %s: finish it (apical run ... --resume) before merging, or merge what "
              "there is with --partial\n",
              why);
      return st;
    }
    fprintf(stderr, "apical: warning: %s: merging its results so far (--partial)\n", why);
    snprintf(note + strlen(note), note_n - strlen(note), "%s%s", note[0] ? "; " : "", why);
  }
  return AP_OK;
}

/* The folder the shards sit in when every one is a directory PARENT/shard-I-of-N of the
 * same PARENT (the names apical run --shard gives without --out below a run's --out or
 * runs/NAME); 0 otherwise. */
static int shards_parent(const char **dirs, int n, char *parent, size_t size) {
  for (int i = 0; i < n; i++) {
    size_t len = strlen(dirs[i]);
    while (len > 1 && dirs[i][len - 1] == '/') len--;
    size_t cut = len;
    while (cut > 0 && dirs[i][cut - 1] != '/') cut--;
    int a, b, used = 0;
    char tail[AP_PATH_MAX];
    snprintf(tail, sizeof tail, "%.*s", (int)(len - cut), dirs[i] + cut);
    if (sscanf(tail, "shard-%d-of-%d%n", &a, &b, &used) != 2 || tail[used]) return 0;
    char here[AP_PATH_MAX];
    /* "shard-0-of-2" alone: the current directory */
    snprintf(here, sizeof here, "%.*s", cut > 1 ? (int)cut - 1 : (int)cut, cut ? dirs[i] : ".");
    if (i == 0)
      snprintf(parent, size, "%s", here);
    else if (strcmp(parent, here))
      return 0;
  }
  return n > 0;
}

static int cmd_merge(int argc, char **argv, const char *command) {
  const char **dirs = calloc((size_t)argc, sizeof *dirs), *out = NULL;
  int n = 0, force = 0, partial = 0, bad = 0;
  if (!dirs) return fail(AP_ERR_OSERR, "out of memory");
  for (int i = 2; i < argc && !bad; i++) {
    const char *v;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage_merge(stdout);
      free(dirs);
      return 0;
    } else if ((v = opt_value(argc, argv, &i, "--out", &bad))) {
      out = v;
    } else if (!strcmp(argv[i], "--force")) {
      force = 1;
    } else if (!strcmp(argv[i], "--partial")) {
      partial = 1;
    } else if (!bad && argv[i][0] == '-') {
      fprintf(stderr, "apical: unknown option %s (apical merge --help)\n", argv[i]);
      bad = 1;
    } else if (!bad) {
      dirs[n++] = argv[i];
    }
  }
  if (!bad && !n) {
    fprintf(stderr, "apical: merge needs the shards' run directories (apical merge --help)\n");
    bad = 1;
  }
  if (bad) {
    free(dirs);
    return AP_ERR_USAGE;
  }
  char note[1024] = "";
  ap_status st = merge_check_live(dirs, n, partial, note, sizeof note);
  if (st) {
    free(dirs);
    return (int)st;
  }
  char out_dir[AP_PATH_MAX], written[AP_PATH_MAX + 32] = "";
  if (out) {
    snprintf(out_dir, sizeof out_dir, "%s", out);
  } else if (shards_parent(dirs, n, out_dir, sizeof out_dir)) {
    /* DIR/shard-I-of-N, as apical run --shard and sweep.sbatch name them: into DIR */
  } else { /* runs/NAME: the name is in the first shard's configuration */
    char first[AP_PATH_MAX + 16], name[64] = "";
    if (access(dirs[0], F_OK)) {
      char msg[AP_PATH_MAX + 64];
      snprintf(msg, sizeof msg, "%s: %s", dirs[0], strerror(errno));
      free(dirs);
      return fail(AP_ERR_NOINPUT, msg);
    }
    snprintf(first, sizeof first, "%s/results.h5", dirs[0]);
    merge_experiment_name(access(first, F_OK) ? dirs[0] : first, name, sizeof name);
    if (!name[0]) {
      free(dirs);
      return fail(AP_ERR_NOINPUT, "cannot read the experiment's name from the first shard; "
                                  "give --out DIR");
    }
    snprintf(out_dir, sizeof out_dir, "runs/%s", name);
  }
  ApError err = {{0}};
  st = merge_shards(dirs, n, out_dir, force, note[0] ? note : NULL, command, written,
                    sizeof written, &err);
  free(dirs);
  if (st) return fail(st, err.msg);
  printf("merged %d shard%s into %s\n", n, n == 1 ? "" : "s", written);
  return 0;
}

int main(int argc, char **argv) {
  char command[2048] = "";
  for (int i = 0; i < argc; i++)
    snprintf(command + strlen(command), sizeof command - strlen(command), "%s%s", i ? " " : "",
             argv[i]);
  if (argc < 2) {
    usage_main(stderr);
    return AP_ERR_USAGE;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage_main(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("apical %s (%s)\n", APICAL_VERSION, APICAL_GIT_REV);
    return 0;
  }
  if (!strcmp(argv[1], "run") || !strcmp(argv[1], "estimate")) return cmd_run(argc, argv, command);
  if (!strcmp(argv[1], "models")) return cmd_models(argc, argv);
  if (!strcmp(argv[1], "merge")) return cmd_merge(argc, argv, command);
  if (!strcmp(argv[1], "report")) return report_command(argc, argv);
  fprintf(stderr, "apical: unknown command '%s' (apical --help)\n", argv[1]);
  return AP_ERR_USAGE;
}
