/* The microcircuit's wide path on the CPU: for wide layers and few replicas.
 *
 * Layout: replica-major, each replica's state in the canonical layout itself (state_set and
 * state_get are copies). mc_body.h runs with one lane (MC_LN = 1); its products and weight
 * updates are vectorised over the presynaptic index instead of over replicas: the updates
 * step for step as on the lane path (the same bits), the products over at least
 * MC_WIDE_MIN_PRE inputs in MC_WIDE_PARTIALS partial sums (a different order of the same
 * terms: tests/test_wide.c states the tolerance against the lane path, and checks the
 * bits where the order is the same). The partial sums make every row's sum independent
 * of the SIMD width and of which thread computes it.
 *
 * Threads: with at least as many replicas as threads, or replicas too small to split, each
 * thread runs whole replicas (a team of one, on no more threads than replicas); with fewer
 * large replicas, a team of team_size threads runs one replica after the other, splitting
 * its neurons (mc_body.h's McBody.rank; a barrier between phases), or a thread each where
 * that times faster (run_guarded's ApTeamGuard). The same bits either way. */
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
#endif

#define MC_LN 1
/* one lane: the helpers inline (Bars 9-30-3, 1 replica: 7.8e5 replica-steps/s against
 * 6.1e5-6.6e5 out of line; 784-100-10 unchanged) */
#define MC_HELPER static inline
#define MC_SIMD _Pragma("omp simd")
#define MC_PRAGMA(x) _Pragma(#x)
#define MC_SIMD_ANY(var) MC_PRAGMA(omp simd reduction(| : var))
#include "mc_body.h"
#include "mc_wide.h"

#include "../backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct McWide {
  McLayout lay;
  McWork wo;
  McSched sch;
  const ApData *data;
  int n, threads, n_samples;
  float *state;      /* [n][n_floats] canonical */
  McLanes *k;        /* [n] */
  int *rows;         /* [n] series rows */
  double weights;    /* per replica */
  ApTeamGuard guard; /* where team_size splits the replicas (mc_wide_run) */
};

/* The auto choice (bench_mc on 2 Zen 4 cores; benchmarks/results/cpu-mc-wide-*.md): a
 * network with a product over MC_WIDE_MIN_PRE inputs or more always takes the wide path,
 * whose sums are the CUDA kernels' too (mc_wide_net): 784-100-10 ran 1.0e5 / 1.6e5 / 1.6e5
 * replica-steps/s at 1 / 4 / 16 replicas against the lanes' 4.3e3 / 1.7e4 / 6.7e4. A
 * smaller network (the same bits on both paths) takes it for fewer than WIDE_SMALL_MAX
 * replicas, where a lane block runs mostly empty lanes on one thread: Bars 9-30-3 at
 * 2 replicas 1.41e6 wide against 8.2e5 lanes, at 4 1.43e6 against 1.70e6.
 * OpenBLAS does not pay here: sgemv and sger of W_up alone (100 x 784, one thread) take
 * 10 us per step, the wide path's whole step 11 us (784-500-10: 55 us against 40 us),
 * since the fused step passes over W once where the two calls pass three times. */
#define WIDE_SMALL_MAX 4
/* The team rule: a replica is split only when there are fewer replicas than threads, and
 * then over one thread per WIDE_TEAM_WEIGHTS weights (at least one, at most every thread):
 * a step's work is a pass over the weights, and below about twice this many weights the
 * barriers between phases cost about what a second thread brings (784-100-10, 82,400
 * weights: 9.2e4 replica-steps/s on one thread, 1.1e5 on two; 784-500-10: 1.9e4 and
 * 3.2e4). Bars 9-30-3 (630 weights) stays on one thread. */
#define WIDE_TEAM_WEIGHTS 10000

int mc_wide_pick(const ApCohortSpec *spec, const char *version) {
  if (version && !strcmp(version, "wide")) return 1;
  if (version && !strcmp(version, "lanes")) return 0;
  McDims d = mc_dims(spec->params);
  return mc_wide_net(&d) || spec->n < WIDE_SMALL_MAX;
}

/* The wide path's arrays in bytes: what mc_wide_create and scratch_init allocate, and
 * what mc_wide_memory adds up. */
typedef struct WideSize {
  size_t state, k, rows; /* per replica (k: of the cohort, rounded to 64 bytes) */
  size_t wk, perm;       /* a team's scratch */
} WideSize;

static WideSize wide_size(const McLayout *lay, const McWork *wo, int n, int n_samples) {
  WideSize z;
  z.state = (size_t)lay->n_floats * sizeof(float);
  z.k = ((size_t)n * sizeof(McLanes) + 63) / 64 * 64;
  z.rows = sizeof(int);
  z.wk = (size_t)wo->n_rows * sizeof(float);
  z.perm = (size_t)(n_samples ? n_samples : 1) * sizeof(uint32_t);
  return z;
}

void mc_wide_destroy(McWide *w) {
  if (!w) return;
  free(w->state);
  free(w->k);
  free(w->rows);
  free(w);
}

ap_status mc_wide_create(const ApCohortSpec *spec, McWide **out, ApError *err) {
  const McParams *params = spec->params;
  McWide *w = calloc(1, sizeof *w);
  if (!w) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  McDims dims = mc_dims(&params[0]);
  if (mc_layout_init(&w->lay, &dims, NULL)) {
    free(w);
    return ap_fail(err, AP_ERR_CONFIG, "microcircuit: bad dims");
  }
  mc_work_init(&w->wo, &dims);
  w->wo.fuse = 1; /* W_up's steps inside the next product: one pass over W (mc_body.h) */
  w->sch = mc_sched(&params[0], spec->data);
  w->sch.n_records = spec->n_records;
  w->data = spec->data;
  w->n = spec->n;
  w->threads = ap_cpu_threads(&spec->exec);
  w->n_samples = w->data->n_train > w->data->n_val ? w->data->n_train : w->data->n_val;
  w->weights = (double)ap_layout_weights(spec->layout);
  WideSize z = wide_size(&w->lay, &w->wo, w->n, w->n_samples);
  w->state = malloc((size_t)w->n * z.state);
  w->k = aligned_alloc(64, z.k);
  w->rows = malloc((size_t)w->n * z.rows);
  if (!w->state || !w->k || !w->rows) {
    mc_wide_destroy(w);
    return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort of %d replicas", spec->n);
  }
  for (int r = 0; r < w->n; r++) {
    McConst c;
    mc_const_init(&c, &params[r]);
    memset(&w->k[r], 0, sizeof w->k[r]);
    mc_lanes_set(&w->k[r], 0, &c);
    mc_lanes_finish(&w->k[r]);
    w->rows[r] = spec->rows[r];
  }
  *out = w;
  return AP_OK;
}

void mc_wide_state_set(McWide *w, const float *state) {
  memcpy(w->state, state, (size_t)w->n * (size_t)w->lay.n_floats * sizeof *state);
}

void mc_wide_state_get(const McWide *w, float *state) {
  memcpy(state, w->state, (size_t)w->n * (size_t)w->lay.n_floats * sizeof *state);
}

/* A team's work arrays for one cohort. */
typedef struct Scratch {
  float *wk;
  uint32_t *perm;
} Scratch;

static void scratch_free(Scratch *s) {
  free(s->wk);
  free(s->perm);
  memset(s, 0, sizeof *s);
}

static int scratch_init(Scratch *s, const McWide *w) {
  WideSize z = wide_size(&w->lay, &w->wo, w->n, w->n_samples);
  s->wk = calloc(1, z.wk);
  s->perm = malloc(z.perm);
  if (!s->wk || !s->perm) {
    scratch_free(s);
    return 0;
  }
  return 1;
}

/* One replica from `from` to `to` (samples), as member rank of a team of team threads. */
static void replica_run(const McWide *w, int r, const Scratch *s, int rank, int team, ApPos from,
                        ApPos to, const ApSeriesBuf *out) {
  McBody b = {.st = w->state + (size_t)r * (size_t)w->lay.n_floats,
              .wk = s->wk,
              .perm = s->perm,
              .stride = 1,
              .lay = &w->lay,
              .wo = &w->wo,
              .k = &w->k[r],
              .sch = w->sch,
              .data = w->data,
              .rank = rank,
              .team = team,
              .wide_sum = 1};
  McOut o = {.base = out->base,
             .row_stride = (size_t)out->n_records * (size_t)out->width,
             .col0 = 0,
             .width = out->width,
             .rows = &w->rows[r],
             .n_real = 1};
  mc_body_records(&b, from, to, &o);
}

/* Threads on each replica when n_tasks replicas of weights weights share threads threads
 * (1: a thread per replica). */
static int team_of(double weights, int n_tasks, int threads) {
  if (n_tasks >= threads) return 1;
  double team = weights / WIDE_TEAM_WEIGHTS;
  return team < 2 ? 1 : team >= threads ? threads : (int)team;
}

static int team_size(const McWide *w, int n_tasks, int threads) {
  return team_of(w->weights, n_tasks, threads);
}

void mc_wide_memory(const ApCohortSpec *spec, ApCohortMem *out) {
  McDims dims = mc_dims(spec->params);
  McLayout lay;
  McWork wo;
  mc_layout_init(&lay, &dims, NULL);
  mc_work_init(&wo, &dims);
  const ApData *d = spec->data;
  WideSize z = wide_size(&lay, &wo, spec->n, d->n_train > d->n_val ? d->n_train : d->n_val);
  int threads = ap_cpu_threads(&spec->exec), scratches = spec->n < threads ? spec->n : threads;
  double weights = (double)ap_layout_weights(spec->layout);
  memset(out, 0, sizeof *out);
  out->host = sizeof(McWide) + (double)spec->n * (double)(z.state + z.rows) + (double)z.k;
  /* a team shares one scratch; else each thread has its own (mc_wide_run; counted per
   * cohort: an upper bound where small cohorts share the threads) */
  if (team_of(weights, spec->n, threads) > 1) scratches = 1;
  out->work = (double)scratches * (double)(z.wk + z.perm);
}

typedef struct Task {
  McWide *w;
  int r, ci;
} Task;

/* The tasks from `from` to `to`, on a team of team threads each, one after the other, or
 * (team 1) a thread each on no more threads than tasks. Nonzero: out of memory. */
static int run_tasks(const Task *tasks, int n_tasks, int threads, int team, ApPos from, ApPos to,
                     const ApSeriesBuf *out, double *busy) {
  int failed = 0;
  if (to.record < from.record || (to.record == from.record && to.unit <= from.unit)) return 0;
  if (team > 1) {
    for (int i = 0; i < n_tasks; i++) {
      double t0 = ap_seconds();
      int used = team;
      Scratch s = {0};
      if (!scratch_init(&s, tasks[i].w)) return 1;
#pragma omp parallel num_threads(team)
      {
        int rank = omp_get_thread_num(), nth = omp_get_num_threads();
#pragma omp single
        used = nth;
        replica_run(tasks[i].w, tasks[i].r, &s, rank, nth, from, to, out);
      }
      scratch_free(&s);
      if (busy) busy[tasks[i].ci] += (ap_seconds() - t0) * used;
    }
    return 0;
  }
  /* no more threads than replicas: an idle thread would only wait */
#pragma omp parallel num_threads(n_tasks < threads ? n_tasks : threads)
  {
    Scratch s = {0};
    const McWide *have = NULL;
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n_tasks; i++) {
      if (tasks[i].w != have) {
        scratch_free(&s);
        have = NULL;
        if (!scratch_init(&s, tasks[i].w)) {
#pragma omp atomic write
          failed = 1;
          continue;
        }
        have = tasks[i].w;
      }
      double t0 = busy ? ap_seconds() : 0.0;
      replica_run(tasks[i].w, tasks[i].r, &s, 0, 1, from, to, out);
      if (busy) {
        double took = ap_seconds() - t0;
#pragma omp atomic
        busy[tasks[i].ci] += took;
      }
    }
    scratch_free(&s);
  }
  return failed;
}

/* As run_tasks, where the team rule splits the replicas on their teams or, where that times
 * slower, a thread each (the first cohort's ApTeamGuard: the same bits either way). The
 * probe takes a quarter of the call, at most a record. */
static int run_guarded(McWide *w, const Task *tasks, int n_tasks, int threads, int team, ApPos from,
                       ApPos to, const ApSeriesBuf *out, double *busy) {
  const long long U = mc_units(&w->sch, w->data->n_train);
  long long l0 = ap_pos_index(from, U), l1 = ap_pos_index(to, U);
  int probe, mode = team > 1 ? ap_team_guard_pick(&w->guard, &probe) : 0;
  if (team > 1 && probe && l1 > l0) {
    long long n = (l1 - l0) / 4 < U ? (l1 - l0) / 4 : U, m = l0 + (n > 0 ? n : 1);
    double t0 = ap_seconds();
    if (run_tasks(tasks, n_tasks, threads, mode ? 1 : team, from, ap_pos_at(m, U), out, busy))
      return 1;
    ap_team_guard_took(&w->guard, !mode, ap_seconds() - t0, (double)(m - l0) / U * n_tasks);
    from = ap_pos_at(l0 = m, U);
    mode = ap_team_guard_best(&w->guard);
  }
  double t0 = ap_seconds();
  if (run_tasks(tasks, n_tasks, threads, mode ? team : 1, from, to, out, busy)) return 1;
  if (team > 1 && l1 > l0)
    ap_team_guard_took(&w->guard, mode, ap_seconds() - t0, (double)(l1 - l0) / U * n_tasks);
  return 0;
}

ap_status mc_wide_run(McWide *const *ws, const int *ci, int n, ApPos from, ApPos to,
                      const ApSeriesBuf *out, double *busy, ApError *err) {
  int n_tasks = 0, threads = 1;
  for (int i = 0; i < n; i++) {
    n_tasks += ws[i]->n;
    threads = ws[i]->threads > threads ? ws[i]->threads : threads;
  }
  if (!n_tasks) return AP_OK;
  Task *tasks = malloc((size_t)n_tasks * sizeof *tasks);
  if (!tasks) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  int q = 0;
  for (int i = 0; i < n; i++)
    for (int r = 0; r < ws[i]->n; r++) tasks[q++] = (Task){.w = ws[i], .r = r, .ci = ci[i]};
  int failed = run_guarded(ws[0], tasks, n_tasks, threads, team_size(ws[0], n_tasks, threads), from,
                           to, out, busy);
  free(tasks);
  if (failed) return ap_fail(err, AP_ERR_OSERR, "out of memory for work arrays");
  return AP_OK;
}

void mc_wide_describe(const McWide *w, char *buf, size_t n) {
  char how[80];
  ap_team_describe(team_size(w, w->n, w->threads), w->threads, how, sizeof how);
  snprintf(buf, n, "%d replica%s, wide path (%s)", w->n, w->n == 1 ? "" : "s", how);
}
