#define _DEFAULT_SOURCE /* SA_RESTART */
#include "run.h"

#include "host/estimate.h"
#include "host/h5io.h"
#include "host/log.h"
#include "host/run_print.h"
#include "host/session.h"
#include "kernels/backend.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SIGINT and SIGTERM, from run_experiment's start to its end: the signal that asked the
 * run to stop (0: none). The run stops at the next point where it can say what it left. */
static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }
static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }
/* What a stopped run returns: 130 after SIGINT, 143 after SIGTERM (128 + the signal). */
static ap_status stopped(ApError *err) {
  return ap_fail(err, g_stop == SIGTERM ? AP_ERR_TERMINATED : AP_ERR_INTERRUPTED,
                 "interrupted by %s", signal_name(g_stop));
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* The kernel versions a checkpoint was written with against those this run asks for: a
 * version that sums in another order (mstdp's blas, the microcircuit's lanes on wide
 * layers) continues with other bits, so a resume must name the same ones. */
static ap_status kernels_match(const char *ckpt, const ApExec *exec, ApError *err) {
  char was[2][64];
  runfile_kernels(ckpt, was[0], was[1], sizeof was[0]);
  const char *now[2] = {exec->cpu_version, exec->cuda_version},
             *option[2] = {"--cpu-kernel", "--cuda-kernel"};
  for (int k = 0; k < 2; k++) {
    const char *v = now[k] && *now[k] ? now[k] : "auto";
    if (was[k][0] && strcmp(was[k], v)) /* "": a file from before they were recorded */
      return ap_fail(err, AP_ERR_CONFIG,
                     "--resume: %s was written with %s %s, this run asks for %s %s (kernel "
                     "versions may sum in another order, and the run would go on with other "
                     "bits): give %s %s",
                     ckpt, option[k], was[k], option[k], v, option[k], was[k]);
  }
  return AP_OK;
}

/* The backend, the dataset, every check of the session (the model's on the data, the
 * kernel versions) and the estimate of a run (est_build's sizes): everything that can
 * refuse a run, before anything is written (apical run, --print-config, estimate). */
static ap_status prepare(const ApExperiment *ex, const RunOptions *opt, const ApBackend **be,
                         char *note, size_t note_n, ApDataset *ds, Estimate *est, ApError *err) {
  memset(ds, 0, sizeof *ds);
  ap_status st = ap_backend_select(opt->backend, be, note, note_n, err);
  if (!st) st = session_load_dataset(ex, ds, err);
  ApData data = ds_view(ds);
  if (!st) st = session_check(ex, *be, &opt->exec, &data, err);
  if (!st) st = est_build(est, ex, &data, &opt->exec, err);
  if (st) ds_free(ds);
  return st;
}

ap_status run_check(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  const ApBackend *be;
  char note[512];
  ApDataset ds;
  Estimate est;
  ap_status st = prepare(ex, opt, &be, note, sizeof note, &ds, &est, err);
  if (st) return st;
  if (!opt->no_memory_check) st = est_check(&est, be, err);
  est_free(&est);
  ds_free(&ds);
  return st;
}

ap_status run_estimate(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  const ApBackend *be;
  char note[512];
  ApDataset ds;
  Estimate est;
  ap_status st = prepare(ex, opt, &be, note, sizeof note, &ds, &est, err);
  if (st) return st;
  ApData data = ds_view(&ds);
  if (!(st = est_calibrate(&est, &data, be, &opt->exec, 2.0, err)))
    est_print(stdout, &est, be, note, opt->out_dir);
  est_free(&est);
  ds_free(&ds);
  return st;
}

static ap_status run_on(const ApExperiment *ex, const RunOptions *opt, const ApBackend *be,
                        const char *note, const ApData *data, ApError *err);

ap_status run_experiment(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  g_stop = 0;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  const ApBackend *be;
  char note[512];
  ApDataset ds;
  Estimate est;
  ap_status st = prepare(ex, opt, &be, note, sizeof note, &ds, &est, err);
  if (!st) {
    if (!opt->no_memory_check) st = est_check(&est, be, err); /* before anything is created */
    est_free(&est);
    ApData data = ds_view(&ds);
    if (!st) st = run_on(ex, opt, be, note, &data, err);
    ds_free(&ds);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return st;
}

/* A signal before the run directory is touched: nothing to leave behind. */
static ap_status stopped_before_start(const RunOptions *opt, ApError *err) {
  log_msg("interrupted by %s before the run started: nothing was written to %s",
          signal_name(g_stop), opt->out_dir);
  return stopped(err);
}

/* One run in progress: what the parts of run_on share. */
typedef struct Run {
  const ApExperiment *ex;
  const RunOptions *opt;
  const ApModel *m;
  Session s;
  char results[AP_PATH_MAX + 32], cdir[AP_PATH_MAX + 32];
  char latest[AP_PATH_MAX + 300]; /* the newest checkpoint ("": none) */
  int lock;                       /* run_lock_dir's descriptor */
  int done;                       /* records done */
  long long done_units;           /* into record done: a checkpoint written inside it */
  int finished;                   /* --resume found the run complete */
  double start_at;                /* where this process starts, in records */
  double work_before, work_to_do; /* replica-steps before that point, and from it to the end */
  double work_done;               /* of work_to_do */
  char *dump, *dump_id, *old_dump;
  float *sorted;           /* [R] the progress line's scratch */
  unsigned char *diverged; /* [R] reported as diverged */
  uint32_t *events;
  uint64_t *events_start;
  RunFile rf;
} Run;

/* The run directory, locked for this run, and the replicas on the backend before the
 * directory is touched: what can still fail there (memory, the backend) leaves the
 * directory as it was. On failure nothing stays open. */
static ap_status open_run(Run *run, const ApBackend *be, const ApData *data, ApError *err) {
  const RunOptions *opt = run->opt;
  ap_status st;
  char logp[AP_PATH_MAX + 32];
  snprintf(run->results, sizeof run->results, "%s/results.h5", opt->out_dir);
  snprintf(run->cdir, sizeof run->cdir, "%s/checkpoints", opt->out_dir);
  snprintf(logp, sizeof logp, "%s/log.txt", opt->out_dir);
  run_latest_checkpoint(opt->out_dir, run->latest, sizeof run->latest);
  if (opt->resume && !run->latest[0])
    return ap_fail(err, AP_ERR_NOINPUT, "--resume: no checkpoint in %s/checkpoints", opt->out_dir);
  if (opt->resume && (st = kernels_match(run->latest, &opt->exec, err))) return st;
  if (!opt->resume && !opt->force && (run->latest[0] || file_exists(run->results)))
    return ap_fail(err, AP_ERR_CANTCREAT,
                   "%s already holds a run; pass --resume to continue it, "
                   "--force to start over, or --out to choose another directory",
                   opt->out_dir);
  if (g_stop) return stopped_before_start(opt, err);
  if ((st = session_open_view(&run->s, run->ex, be, &opt->exec, data, err))) return st;
  if (g_stop) {
    session_close(&run->s);
    return stopped_before_start(opt, err);
  }
  if ((st = run_make_dir(opt->out_dir, err)) || (st = run_make_dir(run->cdir, err))) {
    session_close(&run->s);
    return st;
  }
  run->lock = run_lock_dir(opt->out_dir, err, &st);
  if (run->lock < 0) {
    session_close(&run->s);
    return st;
  }
  run_clean_temp_files(opt->out_dir);
  run_clean_temp_files(run->cdir);
  if (opt->force && !opt->resume) {
    run_prune_checkpoints(opt->out_dir, 0, 1);
    unlink(run->results);
  }
  if (log_open(logp) < 0) {
    run_unlock_dir(opt->out_dir, run->lock);
    session_close(&run->s);
    return ap_fail(err, AP_ERR_CANTCREAT, "%s: %s", logp, strerror(errno));
  }
  log_file_only("\n=== %s\n", opt->command ? opt->command : "apical run");
  return AP_OK;
}

/* The checkpoint just read (read: ckpt_read's status, AP_ERR_CONFIG where its arrays do
 * not fit) against this run: the same experiment, shard and record length, no further
 * than its epochs (run->finished where it is complete). */
static ap_status resume_matches(Run *run, ap_status read, ApError *err) {
  const ApExperiment *ex = run->ex;
  const char *latest = run->latest, *record = run->m->record;
  int E = run->s.E;
  char *old_id = run->old_dump ? config_identity(run->old_dump) : NULL;
  if (!old_id || strcmp(old_id, run->dump_id)) {
    char was[160] = "?", now_[160] = "?";
    config_first_difference(old_id ? old_id : "", run->dump_id, was, now_, sizeof was);
    free(old_id);
    return ap_fail(err, AP_ERR_CONFIG,
                   "--resume: %s was written by a different experiment "
                   "(only [train] epochs may change): it has '%s', this run '%s'",
                   latest, was, now_);
  }
  free(old_id);
  int was_index, was_count;
  runfile_shard(latest, &was_index, &was_count);
  if (was_index != ex->shard_index || was_count != ex->shard_count) {
    char was[48] = "the whole experiment", now_[48] = "the whole experiment";
    if (was_count) snprintf(was, sizeof was, "shard %d/%d", was_index, was_count);
    if (ex->shard_count)
      snprintf(now_, sizeof now_, "shard %d/%d", ex->shard_index, ex->shard_count);
    return ap_fail(err, AP_ERR_CONFIG, "--resume: %s holds %s, this run asks for %s", latest, was,
                   now_);
  }
  if (run->done > E)
    return ap_fail(err, AP_ERR_CONFIG,
                   "--resume: %s holds %d %ss, more than this run's [train] epochs = %d "
                   "(give the same --set train.epochs=%d or more to continue it)",
                   latest, run->done, record, E, run->done);
  if (read) /* the same experiment, yet its arrays do not fit */
    return ap_fail(err, AP_ERR_DATA, "--resume: %s does not match this experiment's shape", latest);
  if (run->done == E) {
    log_msg("%s: the run already finished its %d %ss; raise [train] epochs to extend it", latest, E,
            record);
    run->finished = 1;
    return AP_OK;
  }
  long long per;
  runfile_units(latest, &run->done_units, &per);
  if (run->done_units && per != run->s.units)
    return ap_fail(err, AP_ERR_CONFIG,
                   "--resume: %s stopped %lld of %lld %s into %s %d; this run cuts a %s into "
                   "%lld: resume with the apical that wrote it",
                   latest, run->done_units, per, run_unit_name(run->m), record, run->done + 1,
                   record, run->s.units);
  return AP_OK;
}

/* --resume: the newest good checkpoint's state, series and events into the session. */
static ap_status resume(Run *run, ApError *err) {
  const ApModel *m = run->m;
  ap_status st;
  if ((st = run_resume_point(run->opt->out_dir, run->latest, sizeof run->latest, err))) return st;
  st =
      ckpt_read(run->latest, run->ex, run->s.state, run->s.series, &run->done, &run->old_dump, err);
  if (st && st != AP_ERR_CONFIG) return st;
  if ((st = resume_matches(run, st, err)) || run->finished) return st;
  if ((st = session_push(&run->s, err))) return st;
  uint32_t *ev = NULL;
  uint64_t *ev_start = NULL;
  st = ckpt_read_events(run->latest, run->ex, &ev, &ev_start, err);
  if (!st) st = session_set_events(&run->s, ev, ev_start, err);
  free(ev);
  free(ev_start);
  if (st) return st;
  if (run->done_units)
    log_msg("resuming from %s (%s %d, and %lld of the next %s's %lld %s)", run->latest, m->record,
            run->done, run->done_units, m->record, run->s.units, run_unit_name(m));
  else
    log_msg("resuming from %s (%s %d)", run->latest, m->record, run->done);
  return AP_OK;
}

/* The box of what is about to run, with the backend as it describes itself. */
static void show_start(const Run *run, const ApBackend *be, const char *note, double total_steps) {
  const Session *s = &run->s;
  char desc[600];
  be->describe(&run->opt->exec, desc, sizeof desc);
  if (note[0]) snprintf(desc + strlen(desc), sizeof desc - strlen(desc), " (auto: %s)", note);
  if (s->impl->describe && s->n_cohorts == 1) { /* how it runs: kernel version, blocks, threads */
    char how[200];
    s->impl->describe(s->cohorts[0].c, how, sizeof how);
    snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "; %s", how);
  }
  run_print_box(run->ex, s, desc, run->opt->out_dir, run->done, total_steps);
}

/* The files' description of the run, and record 0's checkpoint (the initial state, for
 * whoever wants the starting weights) where the run is new. A signal that came before
 * the first record stops it here. */
static ap_status first_checkpoint(Run *run, const ApBackend *be, ApError *err) {
  const RunOptions *opt = run->opt;
  Session *s = &run->s;
  ap_status st;
  run->rf = (RunFile){.kind = "checkpoint",
                      .ex = run->ex,
                      .backend = be->name,
                      .dump = run->dump,
                      .command = opt->command,
                      .units_per_record = s->units,
                      .series = s->series,
                      .state = s->state,
                      .cohort = s->cohort_of,
                      .data = &s->data,
                      .cohorts = s->cohorts,
                      .n_cohorts = s->n_cohorts,
                      .cpu_kernel = opt->exec.cpu_version,
                      .cuda_kernel = opt->exec.cuda_version};
  if ((st = session_events(s, &run->events, &run->events_start, err))) return st;
  run->rf.events = run->events, run->rf.events_start = run->events_start;
  if (!opt->resume) {
    char ck[AP_PATH_MAX + 64];
    snprintf(ck, sizeof ck, "%s/epoch-%09d.h5", run->cdir, 0);
    if ((st = runfile_write(ck, &run->rf, err))) return st;
  }
  if (g_stop) { /* before the first record: what is on disk is what there was, or record 0 */
    if (opt->resume)
      log_msg("interrupted by %s before the first %s: %s is unchanged; continue with --resume",
              signal_name(g_stop), run->m->record, run->latest);
    else
      log_msg("interrupted by %s before the first %s: the initial state is in %s/epoch-%09d.h5; "
              "continue with --resume (or start over with --force)",
              signal_name(g_stop), run->m->record, run->cdir, 0);
    return stopped(err);
  }
  return AP_OK;
}

/* The checkpoint at `at` and the results file beside it, the oldest checkpoints pruned. */
static ap_status write_checkpoint(Run *run, ApPos at, ApError *err) {
  ap_status st;
  if ((st = session_pull(&run->s, err))) return st;
  free(run->events), free(run->events_start);
  if ((st = session_events(&run->s, &run->events, &run->events_start, err))) return st;
  run->rf.events = run->events, run->rf.events_start = run->events_start;
  char ck[AP_PATH_MAX + 64];
  run_checkpoint_path(ck, sizeof ck, run->cdir, at);
  run->rf.epochs_done = at.record;
  run->rf.units_done = at.unit;
  run->rf.kind = "checkpoint";
  if ((st = runfile_write(ck, &run->rf, err))) return st;
  run_prune_checkpoints(run->opt->out_dir, run->ex->keep_checkpoints, 0);
  run->rf.kind = "results";
  return runfile_write(run->results, &run->rf, err);
}

/* Work units of about a second: each call's work (replica-steps, session_work) follows the
 * measured rate, so progress moves, a signal is answered and a launch stays short. Advances
 * *at to the end or to where a signal stopped the run (*interrupted). */
static ap_status run_records(Run *run, double t_start, ApPos *at, int *interrupted, ApError *err) {
  const ApExperiment *ex = run->ex;
  Session *s = &run->s;
  const int E = s->E;
  double budget = 0.0; /* 0: the first call is the first unit that does work */
  ap_status st = AP_OK;
  while (at->record < E) {
    int next_ckpt =
        ex->checkpoint_every ? (at->record / ex->checkpoint_every + 1) * ex->checkpoint_every : E;
    if (next_ckpt > E) next_ckpt = E;
    ApPos to = session_reach(s, *at, (ApPos){next_ckpt, 0}, budget);
    double t0 = ap_seconds();
    if ((st = session_advance(s, *at, to, err))) break;
    if (to.record > at->record) run_report_divergence(ex, s, at->record, to.record, run->diverged);
    double took = ap_seconds() - t0, did = session_work(s, *at, to);
    /* a second's worth at the rate just measured, at most twice the last call's */
    if (did > 0.0) budget = took > 0.0 ? fmin(2.0 * did, did / took) : 2.0 * did;
    run->work_done += did;
    *at = to;
    run_print_progress(s, *at, run->work_before, run->work_done, run->work_to_do, t_start,
                       run->sorted);
    *interrupted = g_stop && at->record < E; /* at the end the run is complete: it finishes */
    if ((at->record == next_ckpt && at->unit == 0) || at->record == E || *interrupted) {
      if ((st = write_checkpoint(run, *at, err))) break;
    }
    if (*interrupted) break;
  }
  progress_end();
  return st;
}

/* What the run did, where it stopped: the log's last lines and the summary. */
static ap_status report_end(const Run *run, ApPos at, int interrupted, double t_start,
                            double total_steps, ApError *err) {
  const ApModel *m = run->m;
  const int E = run->s.E;
  if (interrupted) {
    char where[160];
    if (at.unit)
      snprintf(where, sizeof where, "%lld of the %lld %s of %s %d (%d of %d done)", at.unit,
               run->s.units, run_unit_name(m), m->record, at.record + 1, at.record, E);
    else
      snprintf(where, sizeof where, "%s %d of %d", m->record, at.record, E);
    log_msg("interrupted by %s after %s: checkpoint and results written; continue with --resume",
            signal_name(g_stop), where);
    return stopped(err);
  }
  if (g_stop)
    log_msg("%s arrived during the last %s; the run went on to its end and is complete",
            signal_name(g_stop), m->record);
  double wall = ap_seconds() - t_start;
  log_msg("done: %g %ss in %.1f s (%.3g replica-steps/s); results in %s", (double)E - run->start_at,
          m->record, wall, total_steps / wall, run->results);
  run_print_summary(run->ex, &run->s, E);
  return AP_OK;
}

/* Everything open_run opened and the run allocated, and the lock last. */
static void close_run(Run *run, ap_status st, const ApError *err) {
  session_close(&run->s);
  if (st && st != AP_ERR_INTERRUPTED && st != AP_ERR_TERMINATED)
    log_file_only("apical: %s\n", err->msg);
  free(run->sorted);
  free(run->diverged);
  free(run->events);
  free(run->events_start);
  free(run->dump);
  free(run->dump_id);
  free(run->old_dump);
  log_close();
  run_unlock_dir(run->opt->out_dir, run->lock);
}

static ap_status run_on(const ApExperiment *ex, const RunOptions *opt, const ApBackend *be,
                        const char *note, const ApData *data, ApError *err) {
  Run run = {.ex = ex, .opt = opt, .m = ex->model};
  ap_status st = open_run(&run, be, data, err);
  if (st) return st;
  int R = run.s.R, E = run.s.E;
  run.dump = config_dump(ex), run.dump_id = run.dump ? config_identity(run.dump) : NULL;
  run.sorted = malloc((size_t)R * sizeof *run.sorted);
  run.diverged = calloc((size_t)R, 1);
  if (!run.dump || !run.dump_id || !run.sorted || !run.diverged) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto out;
  }
  if (opt->resume && ((st = resume(&run, err)) || run.finished)) goto out;
  run.start_at = run.done + (double)run.done_units / (double)run.s.units; /* in records */
  const ApPos start = {run.done, run.done_units};
  run.work_before = session_work(&run.s, (ApPos){0, 0}, start);
  run.work_to_do = session_work(&run.s, start, (ApPos){E, 0});
  double total_steps = run.work_to_do;
  show_start(&run, be, note, total_steps);
  if ((st = first_checkpoint(&run, be, err))) goto out;
  double t_start = ap_seconds();
  ApPos at = {run.done, run.done_units};
  int interrupted = 0;
  st = run_records(&run, t_start, &at, &interrupted, err);
  if (!st) st = report_end(&run, at, interrupted, t_start, total_steps, err);
out:
  close_run(&run, st, err);
  return st;
}
