/* The MSTDP network on the CPU backend: replica-major, each replica's weights in its own
 * rows (padded to 16 floats), the iteration of ms_body.h with its 16-float loops
 * vectorised. With at least as many replicas as threads, or replicas too small to split,
 * each thread runs whole replicas (a team of one, on no more threads than replicas); with
 * fewer large replicas, a team of team_size threads runs one replica after the other,
 * splitting its rows (a barrier between passes), or a thread each where that times faster
 * (dispatch's ApTeamGuard). Both give the same bits: a row's sum never depends on who
 * computes it.
 *
 * Kernel versions (ApExec.cpu_version):
 *   fused  (auto) the learning update fused into the next iteration's mat-vec (ms_row):
 *          one pass over the weights per iteration instead of sgemv's one and sger's two;
 *          the same bits on every machine, thread count and backend.
 *   blas   the row pass with OpenBLAS (sger for the pending update, sgemv for the inputs),
 *          replicas one after the other, OpenBLAS's threads within each; the rest of the
 *          body as in fused. Where the build found OpenBLAS. It sums in OpenBLAS's order,
 *          which depends on the CPU and the threads: close to fused, not the same bits.
 *          Faster for one replica (benchmarks/results/cpu-mstdp-*.md: 1.4-2.1x at 256
 *          hidden, 0.95-1.3x at 2048), slower for several. */
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
#endif

#define MS_FN static inline
#define MS_CONTIGUOUS
#define MS_SIMD _Pragma("omp simd")
#define MS_SYNC()                                                                                  \
  do {                                                                                             \
    if (t.nth > 1) {                                                                               \
      _Pragma("omp barrier")                                                                       \
    }                                                                                              \
  } while (0)
struct MsTeam;
struct MsBody;
static int blas_rows(struct MsTeam t, const struct MsBody *b, int terms);
#define MS_ROW_PASS_VERSION blas_rows
#include "ms_body.h"

#include "../backend.h"

#ifdef APICAL_HAVE_CBLAS
#include <cblas.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Rep {
  MsRep r;
  MsConst k;
  float *mem; /* everything of r's floats */
  int row;    /* the replica's row in the series */
} Rep;

enum { VERSION_FUSED = 0, VERSION_BLAS = 1 };

struct ApCohort {
  MsDims d;
  MsSeries ser;
  const ApData *data;
  int n, threads, version;
  Rep *reps;
  ApTeamGuard guard; /* where team_size splits the replicas (dispatch) */
};

/* The blas version's row pass: the pending update with sger (its self weights held at
 * 0), then the inputs with sgemv. 0: not this version, the body's own pass runs. */
static int blas_rows(MsTeam t, const MsBody *b, int terms) {
  (void)t;
  if (b->version != VERSION_BLAS) return 0;
#ifdef APICAL_HAVE_CBLAS
  MsRep *r = b->r;
  const MsDims *d = &b->d;
  for (int q = 0; q < terms; q++) {
    const float *a = q ? r->ca2 : r->ca, *x = q ? r->cx2 : r->cx;
    cblas_sger(CblasRowMajor, d->H, d->Np, 1.0f, a, 1, x, 1, r->wh, d->Np);
    cblas_sger(CblasRowMajor, d->V, d->Hp, 1.0f, a + d->Hp, 1, x, 1, r->wv, d->Hp);
  }
  if (terms)
    for (int i = 0; i < d->H; i++) r->wh[(size_t)i * d->Np + i] = 0.0f;
  cblas_sgemv(CblasRowMajor, CblasNoTrans, d->H, d->Np, 1.0f, r->wh, d->Np, r->rho, 1, 0.0f, r->dot,
              1);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, d->V, d->Hp, 1.0f, r->wv, d->Hp, r->rho, 1, 0.0f,
              r->dot + d->Hp, 1);
#endif
  return 1;
}

static ap_status pick_version(ApCohort *c, const char *v, ApError *err) {
  if (!v || !*v || !strcmp(v, "auto") || !strcmp(v, "fused")) {
    c->version = VERSION_FUSED;
    return AP_OK;
  }
  if (strcmp(v, "blas"))
    return ap_fail(err, AP_ERR_USAGE, "--cpu-kernel %s: mstdp's CPU kernels are fused and blas", v);
#ifndef APICAL_HAVE_CBLAS
  return ap_fail(err, AP_ERR_UNAVAILABLE,
                 "--cpu-kernel blas: this build found no OpenBLAS (apt-get install "
                 "libopenblas-dev, then build again)");
#else
  c->version = VERSION_BLAS;
  return AP_OK;
#endif
}

static void cpu_cohort_destroy(ApCohort *c) {
  if (!c) return;
  for (int i = 0; c->reps && i < c->n; i++) {
    free(c->reps[i].mem);
    free(c->reps[i].r.perm);
  }
  free(c->reps);
  free(c);
}

/* A replica's arrays in bytes: its block and its training order (rep_alloc allocates
 * them, ms_cpu_memory adds them up). */
static size_t rep_bytes(const MsDims *d) { return ms_rep_floats(d) * sizeof(float); }
static size_t perm_bytes(int n_train) {
  return (size_t)(n_train > 0 ? n_train : 1) * sizeof(uint32_t);
}

static ap_status rep_alloc(Rep *rp, const MsDims *d, int n_train) {
  rp->mem = aligned_alloc(64, rep_bytes(d));
  rp->r.perm = malloc(perm_bytes(n_train));
  if (!rp->mem || !rp->r.perm) return AP_ERR_OSERR;
  memset(rp->mem, 0, rep_bytes(d));
  ms_rep_carve(&rp->r, rp->mem, d);
  rp->r.perm_pass = -1;
  return AP_OK;
}

void ms_cpu_memory(const ApCohortSpec *spec, ApCohortMem *out) {
  MsDims d = ms_dims(spec->params);
  memset(out, 0, sizeof *out);
  out->host = sizeof(ApCohort) + (double)spec->n * (double)(sizeof(Rep) + rep_bytes(&d) +
                                                            perm_bytes(spec->data->n_train));
}

static ap_status cpu_cohort_create(const ApCohortSpec *spec, ApCohort **out, ApError *err) {
  const MsParams *params = spec->params;
  ApCohort *c = calloc(1, sizeof *c);
  if (!c) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  c->d = ms_dims(&params[0]);
  ApLayout lay;
  ms_layout_init(&params[0], &lay, &c->ser);
  c->data = spec->data;
  c->n = spec->n;
  c->threads = ap_cpu_threads(&spec->exec);
  ap_status st = pick_version(c, spec->exec.cpu_version, err);
  if (st) {
    free(c);
    return st;
  }
  c->reps = calloc((size_t)spec->n, sizeof *c->reps);
  if (!c->reps) goto oom;
  for (int i = 0; i < spec->n; i++) {
    Rep *rp = &c->reps[i];
    if (rep_alloc(rp, &c->d, c->data->n_train)) goto oom;
    ms_const_init(&rp->k, &params[i], spec->data);
    rp->row = spec->rows[i];
  }
  *out = c;
  return AP_OK;
oom:
  cpu_cohort_destroy(c);
  return ap_fail(err, AP_ERR_OSERR, "out of memory creating %d mstdp replicas", spec->n);
}

static ap_status cpu_state_set(ApCohort *c, const float *state, ApError *err) {
  (void)err;
  for (int i = 0; i < c->n; i++) {
    ms_convert(&c->d, &c->reps[i].r, (float *)state + (size_t)i * ms_canon_floats(&c->d),
               MS_INTO_REP);
  }
  return AP_OK;
}

static ap_status cpu_state_get(ApCohort *c, float *state, ApError *err) {
  (void)err;
  for (int i = 0; i < c->n; i++)
    ms_convert(&c->d, &c->reps[i].r, state + (size_t)i * ms_canon_floats(&c->d), MS_INTO_CANON);
  return AP_OK;
}

typedef struct Task {
  ApCohort *c;
  Rep *rp;
  int ci;
} Task;

/* What a task does to a replica, with its team. */
typedef struct Job {
  ApPos from, to;         /* units (ms_body.h's: images), */
  const ApSeriesBuf *out; /* into the series, */
  int iterations, learn;  /* or else (bench) iterations of one kind of phase */
} Job;

static void run_job(MsTeam t, const Task *task, const Job *job) {
  Rep *rp = task->rp;
  ApCohort *c = task->c;
  MsBody b = {
      .r = &rp->r, .k = &rp->k, .d = c->d, .data = c->data, .ser = &c->ser, .version = c->version};
  if (job->out) {
    for (int e = job->from.record; e <= ap_last_record(job->to); e++) {
      long long p0, p1;
      ap_part(job->from, job->to, rp->k.units, e, &p0, &p1);
      ms_record(t, &b, e, p0, p1,
                job->out->base + ((size_t)rp->row * job->out->n_records + e) * job->out->width);
    }
    return;
  }
  int pending = 0;
  MsConst k = rp->k;
  k.iterations = job->iterations;
  b.k = &k;
  ms_phase(t, &b, job->learn, c->d.Hp, c->d.Hp + c->d.V, job->learn, &pending);
  if (pending) { /* apply the last update: nothing stays pending */
    ms_row_pass(t, &b, pending);
    MS_SYNC();
  }
}

/* The team rule: a replica is split only when there are fewer replicas than threads, and
 * then over one thread per MS_TEAM_WEIGHTS weights (at least one, at most every thread):
 * an iteration's work is a pass over the weights, and below about a million weights
 * (256 hidden: 0.47 M) one thread's L2 holds most of them and the barriers cost more than
 * the second thread brings (bench_ms, 256 hidden, 1 replica: 1.30e4 clamped iterations/s
 * on one thread, 1.30e4 on two); on a machine whose other cores are busy a team also
 * waits at every barrier. */
#define MS_TEAM_WEIGHTS (1 << 19)

/* Threads on each replica of c when n_tasks replicas share threads threads (1: a thread
 * per replica). */
static int team_size(const ApCohort *c, int n_tasks, int threads) {
  if (n_tasks >= threads) return 1;
  double team = ((double)c->d.H * c->d.Np + (double)c->d.V * c->d.Hp) / MS_TEAM_WEIGHTS;
  return team < 2 ? 1 : team >= threads ? threads : (int)team;
}

/* The tasks through the job, on a team of team threads each (or OpenBLAS's threads),
 * one after the other, or (team 1) a thread each on no more threads than tasks. */
static void run_tasks(const Task *tasks, int n_tasks, int threads, int team, int blas,
                      const Job *job, double *busy) {
  if (blas || team > 1) {
    /* one replica after the other, on OpenBLAS's threads or split over ours */
#if defined(APICAL_HAVE_CBLAS) && defined(OPENBLAS_VERSION)
    if (blas) openblas_set_num_threads(threads);
#endif
    for (int i = 0; i < n_tasks; i++) {
      double t0 = ap_seconds();
      int used = blas ? threads : team;
      if (blas)
        run_job((MsTeam){0, 1}, &tasks[i], job);
      else {
#pragma omp parallel num_threads(team)
        {
          MsTeam t = {omp_get_thread_num(), omp_get_num_threads()};
#pragma omp single
          used = t.nth;
          run_job(t, &tasks[i], job);
        }
      }
      if (busy) busy[tasks[i].ci] += (ap_seconds() - t0) * used;
    }
    return;
  }
  /* no more threads than replicas: an idle thread would only wait */
  int nt = n_tasks > 0 && n_tasks < threads ? n_tasks : threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int i = 0; i < n_tasks; i++) {
    double t0 = busy ? ap_seconds() : 0.0;
    run_job((MsTeam){0, 1}, &tasks[i], job);
    if (busy) {
      double took = ap_seconds() - t0;
#pragma omp atomic
      busy[tasks[i].ci] += took;
    }
  }
}

/* Every replica of every cohort: a thread each (on no more threads than replicas), or,
 * for fewer large replicas than threads, a team (team_size) on one replica after the
 * other; records where the team times slower a thread each (the first cohort's
 * ApTeamGuard: the same bits either way). busy: thread-seconds per cohort. */
static ap_status dispatch(ApCohort *const *cohorts, int n_cohorts, const Job *job, double *busy,
                          ApError *err) {
  int n_tasks = 0, threads = 1;
  for (int i = 0; i < n_cohorts; i++) {
    n_tasks += cohorts[i]->n;
    threads = cohorts[i]->threads > threads ? cohorts[i]->threads : threads;
  }
  Task *tasks = malloc((size_t)(n_tasks ? n_tasks : 1) * sizeof *tasks);
  if (!tasks) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  int q = 0;
  for (int i = 0; i < n_cohorts; i++)
    for (int j = 0; j < cohorts[i]->n; j++)
      tasks[q++] = (Task){cohorts[i], &cohorts[i]->reps[j], i};
  if (busy)
    for (int i = 0; i < n_cohorts; i++) busy[i] = 0.0;
  int blas = cohorts[0]->version == VERSION_BLAS, team = team_size(cohorts[0], n_tasks, threads);
  /* positions as units from the run's start */
  const long long P = cohorts[0]->reps[0].k.units;
  long long l0 = ap_pos_index(job->from, P), l1 = ap_pos_index(job->to, P);
  if (blas || team == 1 || !job->out || l1 <= l0) {
    run_tasks(tasks, n_tasks, threads, team, blas, job, busy);
  } else {
    ApTeamGuard *g = &cohorts[0]->guard;
    Job part = *job;
    int probe, mode = ap_team_guard_pick(g, &probe);
    if (probe) { /* the other way on a quarter of the range, at most a record */
      long long n = (l1 - l0) / 4 < P ? (l1 - l0) / 4 : P, m = l0 + (n > 0 ? n : 1);
      part.to = ap_pos_at(m, P);
      double t0 = ap_seconds();
      run_tasks(tasks, n_tasks, threads, mode ? 1 : team, 0, &part, busy);
      ap_team_guard_took(g, !mode, ap_seconds() - t0, (double)(m - l0) / P * n_tasks);
      part.from = part.to;
      part.to = job->to;
      l0 = m;
      mode = ap_team_guard_best(g);
    }
    if (l1 > l0) {
      double t0 = ap_seconds();
      run_tasks(tasks, n_tasks, threads, mode ? team : 1, 0, &part, busy);
      ap_team_guard_took(g, mode, ap_seconds() - t0, (double)(l1 - l0) / P * n_tasks);
    }
  }
  free(tasks);
  return AP_OK;
}

static ap_status cpu_run(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                         const ApSeriesBuf *out, double *busy, ApError *err) {
  Job job = {.from = from, .to = to, .out = out};
  return dispatch(cohorts, n_cohorts, &job, busy, err);
}

ap_status ms_cpu_iterations(ApCohort *c, int learn, int n, ApError *err) {
  Job job = {.iterations = n, .learn = learn};
  return dispatch(&c, 1, &job, NULL, err);
}

static void cpu_describe(const ApCohort *c, char *buf, size_t n) {
  char how[80];
  ap_team_describe(team_size(c, c->n, c->threads), c->threads, how, sizeof how);
  snprintf(buf, n, "%d replica%s of %d hidden, %s", c->n, c->n == 1 ? "" : "s", c->d.H,
           c->version == VERSION_BLAS ? "OpenBLAS (sger, sgemv) on each in turn" : how);
}

const ApModelImpl ms_cpu_impl = {
#ifdef APICAL_HAVE_CBLAS
    .versions = "fused|blas",
#else
    .versions = "fused",
#endif
    .cohort_create = cpu_cohort_create,
    .cohort_destroy = cpu_cohort_destroy,
    .state_set = cpu_state_set,
    .state_get = cpu_state_get,
    .run = cpu_run,
    .describe = cpu_describe,
};
