/* The LIF-STDP network on the CPU backend: the body of ls_body.h run by a team of threads
 * per replica, a block of one thread each (LS_BLOCK_OF_ONE). With at least as many
 * replicas as threads, or replicas too small to split, a thread per replica (a team of
 * one, replicas spread over the threads); with fewer large replicas, one replica after
 * the other on a team of team_size threads, or a thread each where that times faster
 * (run_split). Each thread of a team adds the pending inputs of its own neurons (fixed
 * point, ls_delivery), the record's weight sums are fixed point added atomically (any
 * order: the same bits), each plastic synapse has one writer, and the raster's pairs,
 * appended in whatever order the team's threads take them, are sorted by (step, neuron) at
 * each record's end: a team of one's order. So the results are the same bits for any team
 * and thread count. */
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
#endif

#define LS_FN static inline __attribute__((always_inline))
/* t: the team of the body's function that syncs or adds (a team of one: no barrier, plain
 * adds) */
#define LS_SYNC()                                                                                  \
  do {                                                                                             \
    if (t.nth > 1) {                                                                               \
      _Pragma("omp barrier")                                                                       \
    }                                                                                              \
  } while (0)
#define LS_ADD64(p, v)                                                                             \
  (t.nth > 1 ? (void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED) : (void)(*(p) += (v)))
#define LS_TAKE(p) (t.nth > 1 ? __atomic_fetch_add((p), 1, __ATOMIC_RELAXED) : (*(p))++)
#define LS_SIMD _Pragma("omp simd")
#define LS_BLOCK_OF_ONE
#include "ls_rep.h"

#include "../backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Rep {
  LsNet net;
  LsRep r;
  LsConst k;
  void *mem;
  int row; /* the replica's row in the series */
} Rep;

struct ApCohort {
  LsDims d;
  LsSeries ser;
  int n, threads;
  size_t canon; /* floats of one replica's canonical state (the layout's) */
  Rep *reps;
  ApTeamGuard guard; /* (run_split) */
  int fixed;         /* --cpu-kernel team: the team whatever the guard times */
};

static void cpu_cohort_destroy(ApCohort *c) {
  if (!c) return;
  for (int i = 0; c->reps && i < c->n; i++) {
    ls_net_free(&c->reps[i].net);
    free(c->reps[i].mem);
    free(c->reps[i].r.rast);
  }
  free(c->reps);
  free(c);
}

static ap_status cpu_cohort_create(const ApCohortSpec *spec, ApCohort **out, ApError *err) {
  const LsParams *params = spec->params;
  ApCohort *c = calloc(1, sizeof *c);
  if (!c) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  c->d = ls_dims(&params[0]);
  ApLayout lay;
  ls_layout_init(&params[0], &lay, &c->ser);
  c->canon = (size_t)lay.n_floats;
  c->n = spec->n;
  c->threads = ap_cpu_threads(&spec->exec);
  const char *v = spec->exec.cpu_version;
  if (v && *v && strcmp(v, "auto") && strcmp(v, "team")) {
    free(c);
    return ap_fail(err, AP_ERR_USAGE, "--cpu-kernel %s: lif_stdp's CPU kernels are auto and team",
                   v);
  }
  c->fixed = v && !strcmp(v, "team");
  c->reps = calloc((size_t)spec->n, sizeof *c->reps);
  if (!c->reps) goto oom;
  for (int i = 0; i < spec->n; i++) {
    Rep *rp = &c->reps[i];
    if (ls_net_build(&params[i], &rp->net)) goto oom;
    size_t bytes = ls_rep_bytes(&c->d, rp->net.n_plastic);
    rp->mem = aligned_alloc(64, bytes);
    if (!rp->mem) goto oom;
    memset(rp->mem, 0, bytes);
    ls_rep_carve(&rp->r, rp->mem, &c->d, &rp->net, &rp->net);
    ls_const_init(&rp->k, &params[i]);
    rp->row = spec->rows[i];
  }
  *out = c;
  return AP_OK;
oom:
  cpu_cohort_destroy(c);
  return ap_fail(err, AP_ERR_OSERR, "out of memory creating %d lif_stdp replicas", spec->n);
}

/* ---- memory: the sizes both backends allocate (here, where the body's types are plain C) */

#define RASTER_FIRST 65536 /* pairs: a replica's raster starts this large and doubles */

/* Raster pairs a replica may append in n steps: each neuron spikes at most once per
 * refractory period + 1 steps. */
static long long raster_pairs(const LsDims *d, long long n, int ref) {
  return (long long)d->N * ((n + ref) / (ref + 1) + 1);
}

LsCudaSize ls_cuda_size(const LsDims *d, int R, int F, int ref_min) {
  LsCudaSize z;
  memset(&z, 0, sizeof z);
  size_t r = (size_t)(R > 0 ? R : 1);
  size_t chunk = LS_CUDA_SERIES_BUDGET / (r * (size_t)F * sizeof(float));
  z.chunk = chunk < 1 ? 1 : chunk > LS_CUDA_CHUNK ? LS_CUDA_CHUNK : (int)chunk;
  /* the raster buffer: every spike of a launch's raster steps, within the budget */
  if (d->raster_steps > 0) {
    long long most = (long long)z.chunk * d->steps, fit = (long long)(LS_RASTER_BUDGET / (r * 8));
    if (most > d->raster_steps) most = d->raster_steps;
    long long n = most;
    while (n > 1 && raster_pairs(d, n, ref_min) > fit) n /= 2;
    z.rast_steps = n;
    z.rast_cap = raster_pairs(d, n, ref_min);
  }
  z.per_launch = (size_t)z.chunk * (size_t)F * sizeof(float) + (size_t)z.rast_cap * 8 +
                 sizeof(LsRep) + sizeof(LsConst) + sizeof(int);
  return z;
}

ap_status ls_memory(const char *backend, const ApCohortSpec *spec, ApCohortMem *out, ApError *err) {
  const LsParams *params = spec->params;
  LsDims d = ls_dims(params);
  double R = spec->n, S, K;
  int ref_min = 1 << 30;
  for (int i = 0; i < spec->n; i++) {
    LsConst k;
    ls_const_init(&k, &params[i]);
    ref_min = k.ref_steps < ref_min ? k.ref_steps : ref_min;
  }
  ls_net_bound(params, &S, &K); /* the networks are not built for an estimate */
  double rep = (double)ls_rep_bytes(&d, (long long)K),
         net = (double)ls_net_bytes(d.N, (long long)S, (long long)K, 0);
  memset(out, 0, sizeof *out);
  if (!strcmp(backend, "cpu")) {
    /* the raster's first allocation; it doubles as spikes come (not counted) */
    out->host = sizeof(ApCohort) +
                R * (sizeof(Rep) + net + rep + (d.raster_steps > 0 ? RASTER_FIRST * 8.0 : 0));
    return AP_OK;
  }
  if (strcmp(backend, "cuda"))
    return ap_fail(err, AP_ERR_UNAVAILABLE, "lif_stdp: no %s implementation", backend);
  LsCudaSize z = ls_cuda_size(&d, spec->n, spec->layout->series_width, ref_min);
  double packed = (double)ls_net_bytes(d.N, (long long)S, (long long)K, 1);
  out->device = out->device_min = R * (rep + packed + (double)z.per_launch); /* no parts */
  /* the networks, the staged blocks, the series of a launch, the counts (the rasters
   * grow as spikes come, not counted); while creating: constants, reps and packed nets */
  out->host = R * (net + rep + (double)z.chunk * spec->layout->series_width * sizeof(float) +
                   sizeof(LsNet) + 2 * sizeof(size_t) + 2 * sizeof(int));
  out->work = R * (packed + sizeof(LsConst) + sizeof(LsRep) + sizeof(LsNet) + sizeof(size_t));
  return AP_OK;
}

static ap_status cpu_state_set(ApCohort *c, const float *state, ApError *err) {
  (void)err;
  for (int i = 0; i < c->n; i++)
    ls_convert(&c->d, &c->reps[i].net, &c->reps[i].r, (float *)state + i * c->canon, LS_INTO_REP);
  return AP_OK;
}

static ap_status cpu_state_get(ApCohort *c, float *state, ApError *err) {
  (void)err;
  for (int i = 0; i < c->n; i++)
    ls_convert(&c->d, &c->reps[i].net, &c->reps[i].r, state + i * c->canon, LS_INTO_CANON);
  return AP_OK;
}

/* Room in the raster for every spike n more steps can hold (each neuron at most once per
 * refractory period + 1 steps). */
static int raster_room(Rep *rp, const LsDims *d, long long n) {
  LsRep *r = &rp->r;
  long long need = (long long)*r->n_rast + raster_pairs(d, n, rp->k.ref_steps);
  if (need <= r->rast_cap) return 0;
  long long cap = r->rast_cap ? 2LL * r->rast_cap : RASTER_FIRST;
  while (cap < need) cap *= 2;
  uint32_t *q = realloc(r->rast, (size_t)cap * 2 * sizeof *q);
  if (!q) return -1;
  r->rast = q;
  r->rast_cap = (int)cap;
  return 0;
}

/* The team rule: a replica is split only when there are fewer replicas than threads, and
 * then over one thread per LS_TEAM_NEURONS neurons (at least one, at most every thread):
 * the work of a step grows with its neurons (their update, and the spikes they send), and
 * a step's three barriers cost about what a thread with fewer neurons brings (bench_ls on 2
 * busy cores: no gain from a second thread up to 1,200 neurons; a quiet machine is yet to
 * place the break-even: benchmarks/results/cpu-threads-2026-12-07.md). */
#define LS_TEAM_NEURONS 1000

/* Threads on each replica of c when n_tasks replicas share threads threads. */
static int team_size(const ApCohort *c, int n_tasks, int threads) {
  if (n_tasks >= threads) return 1;
  int team = c->d.N / LS_TEAM_NEURONS;
  return team < 1 ? 1 : team > threads ? threads : team;
}

/* Steps s0 .. s1-1 of the run by the team t (every thread of it calls this): a record
 * starts and ends with its first and last step (a record is d.steps of them, ls_model's
 * units), wherever the call cuts. */
static void team_steps(LsTeam t, const LsBody *b, long long s0, long long s1,
                       const ApSeriesBuf *out, int row) {
  const int steps = b->d->steps;
  for (long long s = s0; s < s1; s++) {
    if (s % steps == 0) ls_record_start(t, b);
    ls_step(t, b, s);
    if ((s + 1) % steps == 0) {
      long long e = s / steps;
      ls_record_end(t, b, e, out->base + ((size_t)row * out->n_records + e) * out->width);
    }
  }
}

/* Raster pairs (neuron, step) by step, then neuron: a team of one's order. */
static int pair_order(const void *a, const void *b) {
  const uint32_t *x = a, *y = b;
  if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Steps s0 .. s1-1 of a replica on a team of team threads (its own parallel region where
 * more than one), a record's piece at a time: the raster grows between them, and a team's
 * spikes are put in a team of one's order. */
static int run_replica(ApCohort *c, Rep *rp, int team, long long s0, long long s1,
                       const ApSeriesBuf *out) {
  LsBody b = {.r = &rp->r, .k = &rp->k, .d = &c->d, .ser = &c->ser};
  const int steps = c->d.steps;
  for (long long a = s0; a < s1;) {
    long long z = (a / steps + 1) * steps; /* this record's end */
    if (z > s1) z = s1;
    if (a < c->d.raster_steps && raster_room(rp, &c->d, steps - a % steps)) return -1;
    int n0 = *rp->r.n_rast;
    if (team == 1) {
      LsTeam t = {.tid = 0, .nth = 1, .blk = 0, .nblk = 1, .btid = 0, .bnth = 1};
      ls_team_neurons(&t, c->d.N);
      team_steps(t, &b, a, z, out, rp->row);
    } else {
#pragma omp parallel num_threads(team)
      {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        LsTeam t = {.tid = tid, .nth = nth, .blk = tid, .nblk = nth, .btid = 0, .bnth = 1};
        ls_team_neurons(&t, c->d.N);
        team_steps(t, &b, a, z, out, rp->row);
      }
      if (*rp->r.n_rast > n0)
        qsort(rp->r.rast + 2 * (size_t)n0, (size_t)(*rp->r.n_rast - n0), 2 * sizeof(uint32_t),
              pair_order);
    }
    a = z;
  }
  return 0;
}

/* c's replicas through steps s0 .. s1-1, a thread each on no more threads than replicas.
 * busy: thread-seconds. */
static int run_each(ApCohort *c, int threads, long long s0, long long s1, const ApSeriesBuf *out,
                    double *busy) {
  int failed = 0, nt = c->n < threads ? c->n : threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt > 0 ? nt : 1)
  for (int j = 0; j < c->n; j++) {
    double t0 = busy ? ap_seconds() : 0.0;
    if (run_replica(c, &c->reps[j], 1, s0, s1, out)) {
#pragma omp atomic write
      failed = 1;
    }
    if (busy) {
      double took = ap_seconds() - t0;
#pragma omp atomic
      *busy += took;
    }
  }
  return failed;
}

/* c's replicas through steps s0 .. s1-1 (mode 1: on a team each, one after the other;
 * 0: a thread each), timed into c's guard. */
static int run_mode(ApCohort *c, int mode, int team, int threads, long long s0, long long s1,
                    const ApSeriesBuf *out, double *busy) {
  if (s1 <= s0) return 0;
  double t0 = ap_seconds();
  int failed = 0;
  if (!mode)
    failed = run_each(c, threads, s0, s1, out, busy);
  else
    for (int j = 0; j < c->n && !failed; j++) {
      double t1 = ap_seconds();
      failed = run_replica(c, &c->reps[j], team, s0, s1, out);
      if (busy) *busy += (ap_seconds() - t1) * team;
    }
  ap_team_guard_took(&c->guard, mode, ap_seconds() - t0, (double)(s1 - s0) / c->d.steps * c->n);
  return failed;
}

/* A cohort the team rule splits, on its team or, where that times slower, a thread each
 * (ApTeamGuard, kernels/backend.h: the bits are the same either way); a probe of the
 * other takes a record's steps at most. */
static int run_split(ApCohort *c, int team, int threads, long long s0, long long s1,
                     const ApSeriesBuf *out, double *busy) {
  if (c->fixed) return run_mode(c, 1, team, threads, s0, s1, out, busy);
  int probe, mode = ap_team_guard_pick(&c->guard, &probe);
  if (probe) {
    long long p1 = s0 + c->d.steps < s1 ? s0 + c->d.steps : s1;
    if (run_mode(c, !mode, team, threads, s0, p1, out, busy)) return 1;
    s0 = p1;
    mode = ap_team_guard_best(&c->guard);
  }
  return run_mode(c, mode, team, threads, s0, s1, out, busy);
}

/* The replicas to split (team_size) cohort by cohort (run_split), then the rest a thread
 * each on no more threads than there are replicas. busy: thread-seconds. Units are steps
 * (ls_model; 0 where records are not cut). */
static ap_status cpu_run(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                         const ApSeriesBuf *out, double *busy, ApError *err) {
  int n_tasks = 0, threads = 1, n_one = 0;
  for (int i = 0; i < n_cohorts; i++) {
    n_tasks += cohorts[i]->n;
    threads = cohorts[i]->threads > threads ? cohorts[i]->threads : threads;
  }
  double *spent = busy ? busy : calloc((size_t)(n_cohorts > 0 ? n_cohorts : 1), sizeof *spent);
  if (!spent) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int i = 0; i < n_cohorts; i++) spent[i] = 0.0;
  int failed = 0;
  for (int i = 0; i < n_cohorts && !failed; i++) {
    int team = team_size(cohorts[i], n_tasks, threads);
    long long steps = cohorts[i]->d.steps;
    if (team == 1)
      n_one += cohorts[i]->n;
    else
      failed = run_split(cohorts[i], team, threads, ap_pos_index(from, steps),
                         ap_pos_index(to, steps), out, &spent[i]);
  }
  int nt = n_one < threads ? n_one : threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt > 0 ? nt : 1)
  for (int x = 0; x < n_tasks; x++) {
    int ci = 0, j = x;
    while (j >= cohorts[ci]->n) j -= cohorts[ci++]->n;
    if (team_size(cohorts[ci], n_tasks, threads) > 1) continue; /* run_split's */
    double t0 = ap_seconds();
    long long steps = cohorts[ci]->d.steps;
    if (run_replica(cohorts[ci], &cohorts[ci]->reps[j], 1, ap_pos_index(from, steps),
                    ap_pos_index(to, steps), out)) {
#pragma omp atomic write
      failed = 1;
    }
    double took = ap_seconds() - t0;
#pragma omp atomic
    spent[ci] += took;
  }
  if (!busy) free(spent);
  if (failed) return ap_fail(err, AP_ERR_OSERR, "out of memory for the spike raster");
  return AP_OK;
}

static void cpu_describe(const ApCohort *c, char *buf, size_t n) {
  long long syn = 0;
  for (int i = 0; i < c->n; i++) syn += c->reps[i].net.n_static + c->reps[i].net.n_plastic;
  int team = team_size(c, c->n, c->threads);
  char how[96] = "a thread each";
  if (team > 1)
    snprintf(how, sizeof how, "a team of %d threads on each in turn%s", team,
             c->fixed ? "" : " (or a thread each where faster)");
  snprintf(buf, n, "%d replica%s of %d neurons (%.3g synapses each on average), %s", c->n,
           c->n == 1 ? "" : "s", c->d.N, (double)syn / (c->n ? c->n : 1), how);
}

static ap_status cpu_events_get(ApCohort *c, int i, const uint32_t **pairs, size_t *n,
                                ApError *err) {
  (void)err;
  *pairs = c->reps[i].r.rast;
  *n = c->reps[i].r.rast ? (size_t)*c->reps[i].r.n_rast : 0;
  return AP_OK;
}

static ap_status cpu_events_set(ApCohort *c, int i, const uint32_t *pairs, size_t n, ApError *err) {
  LsRep *r = &c->reps[i].r;
  if (n > (size_t)r->rast_cap) {
    uint32_t *q = realloc(r->rast, n * 2 * sizeof *q);
    if (!q) return ap_fail(err, AP_ERR_OSERR, "out of memory for the spike raster");
    r->rast = q;
    r->rast_cap = (int)n;
  }
  if (n) memcpy(r->rast, pairs, n * 2 * sizeof *pairs);
  *r->n_rast = (int)n;
  return AP_OK;
}

const ApModelImpl ls_cpu_impl = {
    .versions = "auto|team",
    .cohort_create = cpu_cohort_create,
    .cohort_destroy = cpu_cohort_destroy,
    .state_set = cpu_state_set,
    .state_get = cpu_state_get,
    .run = cpu_run,
    .describe = cpu_describe,
    .events_get = cpu_events_get,
    .events_set = cpu_events_set,
};
