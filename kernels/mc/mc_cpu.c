/* The microcircuit on the CPU backend: two kernel versions, chosen per cohort
 * (mc_wide_pick): the lane blocks below, for many small networks, and the wide path
 * (mc_wide.c: replica-major, vectorised over each neuron's inputs, threads over replicas
 * or over one replica's neurons), for wide layers and few replicas. Both run mc_body.h.
 *
 * Lane blocks. Layout: replicas are grouped into blocks of MC_LN lanes; inside a block every state
 * element is stored replica-innermost, x[element][lane], so each loop over a block's
 * lanes (mc_body.h) is one SIMD instruction sequence and a replica never shares
 * arithmetic with another. A thread keeps one block for a whole chunk of epochs, so the
 * block's weights (40 KB for Bars 9-30-3 at 16 lanes) stay in L1/L2. Replica-innermost
 * blocks measured about 4x faster than replica-major with BLAS for networks of this size;
 * no BLAS call pays here, since every replica has its own weights (a batched mat-vec).
 * 16 lanes (one AVX-512 vector) measured 1.45e7 replica-steps/s against 8.3e6 for 8 lanes
 * and 1.48e7 for 32 (bench_mc, 1024 replicas, 2 Zen 4 cores, before later speed-ups).
 *
 * A block with fewer real replicas than lanes fills the spare lanes with copies of its
 * first replica and discards their results; all lanes run the same instructions, which is
 * why a replica's numbers do not depend on its batch. */
#ifndef APICAL_CPU_LANES
#define APICAL_CPU_LANES 16
#endif
#define MC_LN APICAL_CPU_LANES
#define MC_SIMD _Pragma("omp simd")
#define MC_PRAGMA(x) _Pragma(#x)
#define MC_SIMD_ANY(var) MC_PRAGMA(omp simd reduction(| : var))
#include "mc_body.h"
#include "mc_wide.h"

#include "../backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Block {
  float *state; /* [n_floats][MC_LN] the canonical fields, lane-innermost */
  McLanes k;
  int n_real;
  int rows[MC_LN]; /* series row of each real lane */
} Block;

struct ApCohort {
  McWide *wide; /* the wide path runs this cohort (mc_wide.c); else the lane blocks below */
  McLayout lay;
  McWork wo;
  McSched sch;
  const ApData *data;
  int n_replicas, n_blocks, n_samples, threads;
  double cost; /* of one record of one block */
  Block *blocks;
};

/* A thread's work arrays for the blocks of one cohort. */
typedef struct Scratch {
  float *wk;      /* [wo.n_rows][MC_LN] */
  uint32_t *perm; /* [n_samples][MC_LN] */
  float *frozen;  /* [n_floats][MC_LN], touched only while a lane is frozen */
} Scratch;

/* Bytes of n floats in whole 64-byte lines (at least one), as alloc_lines takes them. */
static size_t floats_bytes(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  return bytes ? bytes : 64;
}

/* bytes (a floats_bytes size), 64-byte aligned and zeroed */
static void *alloc_lines(size_t bytes) {
  void *p = aligned_alloc(64, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

/* The lane path's arrays in bytes: what cohort_create and scratch_init allocate, and what
 * mc_cpu_memory adds up. */
typedef struct LanesSize {
  size_t block_state;      /* per block */
  size_t wk, perm, frozen; /* a thread's scratch */
} LanesSize;

static LanesSize lanes_size(const McLayout *lay, const McWork *wo, int n_samples) {
  LanesSize z;
  z.block_state = floats_bytes((size_t)lay->n_floats * MC_LN);
  z.wk = floats_bytes((size_t)wo->n_rows * MC_LN);
  z.perm = (size_t)n_samples * MC_LN * sizeof(uint32_t);
  z.frozen = (size_t)lay->n_floats * MC_LN * sizeof(float);
  return z;
}

static void scratch_free(Scratch *s) {
  free(s->wk);
  free(s->perm);
  free(s->frozen);
  s->wk = s->frozen = NULL;
  s->perm = NULL;
}

static ap_status scratch_init(Scratch *s, const ApCohort *c) {
  LanesSize z = lanes_size(&c->lay, &c->wo, c->n_samples);
  s->wk = alloc_lines(z.wk);
  s->perm = malloc(z.perm);
  /* not cleared: its pages cost memory only once a frozen lane uses them */
  s->frozen = malloc(z.frozen);
  if (!s->wk || !s->perm || !s->frozen) {
    scratch_free(s);
    return AP_ERR_OSERR;
  }
  return AP_OK;
}

static void cpu_cohort_destroy(ApCohort *c) {
  if (!c) return;
  mc_wide_destroy(c->wide);
  for (int i = 0; c->blocks && i < c->n_blocks; i++) free(c->blocks[i].state);
  free(c->blocks);
  free(c);
}

static ap_status cpu_cohort_create(const ApCohortSpec *spec, ApCohort **out, ApError *err) {
  const McParams *params = spec->params;
  const char *v = spec->exec.cpu_version;
  if (v && *v && strcmp(v, "auto") && strcmp(v, "lanes") && strcmp(v, "wide"))
    return ap_fail(err, AP_ERR_USAGE,
                   "--cpu-kernel %s: the microcircuit's CPU kernels are lanes and wide", v);
  ApCohort *c = calloc(1, sizeof *c);
  if (!c) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  if (mc_wide_pick(spec, v)) {
    ap_status st = mc_wide_create(spec, &c->wide, err);
    if (st) {
      free(c);
      return st;
    }
    *out = c;
    return AP_OK;
  }
  McDims dims = mc_dims(&params[0]);
  ap_status st = mc_layout_init(&c->lay, &dims, NULL);
  if (st) {
    free(c);
    return ap_fail(err, st, "microcircuit: bad dims");
  }
  mc_work_init(&c->wo, &dims);
  c->sch = mc_sched(&params[0], spec->data);
  c->sch.n_records = spec->n_records;
  c->data = spec->data;
  c->n_replicas = spec->n;
  c->n_blocks = (spec->n + MC_LN - 1) / MC_LN;
  c->n_samples = c->data->n_train > c->data->n_val ? c->data->n_train : c->data->n_val;
  c->threads = ap_cpu_threads(&spec->exec);
  c->cost = (double)c->sch.t_pres * (double)(c->data->n_train + c->sch.n_val) *
            (double)ap_layout_weights(spec->layout);
  LanesSize z = lanes_size(&c->lay, &c->wo, c->n_samples);
  /* aligned, so that every lane constant is an aligned vector (McLanes) */
  c->blocks = aligned_alloc(64, (size_t)c->n_blocks * sizeof *c->blocks);
  if (!c->blocks) goto oom;
  memset(c->blocks, 0, (size_t)c->n_blocks * sizeof *c->blocks);
  for (int bi = 0; bi < c->n_blocks; bi++) {
    Block *b = &c->blocks[bi];
    b->n_real = spec->n - bi * MC_LN < MC_LN ? spec->n - bi * MC_LN : MC_LN;
    for (int l = 0; l < MC_LN; l++) {
      int r = bi * MC_LN + (l < b->n_real ? l : 0);
      McConst k;
      mc_const_init(&k, &params[r]);
      mc_lanes_set(&b->k, l, &k);
      if (l < b->n_real) b->rows[l] = spec->rows[r];
    }
    mc_lanes_finish(&b->k);
    b->state = alloc_lines(z.block_state);
    if (!b->state) goto oom;
  }
  *out = c;
  return AP_OK;
oom:
  cpu_cohort_destroy(c);
  return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort of %d replicas", spec->n);
}

void mc_cpu_memory(const ApCohortSpec *spec, ApCohortMem *out) {
  memset(out, 0, sizeof *out);
  if (mc_wide_pick(spec, spec->exec.cpu_version)) {
    mc_wide_memory(spec, out);
    return;
  }
  McDims dims = mc_dims(spec->params);
  McLayout lay;
  McWork wo;
  mc_layout_init(&lay, &dims, NULL);
  mc_work_init(&wo, &dims);
  const ApData *d = spec->data;
  LanesSize z = lanes_size(&lay, &wo, d->n_train > d->n_val ? d->n_train : d->n_val);
  double blocks = (spec->n + MC_LN - 1) / MC_LN, threads = ap_cpu_threads(&spec->exec);
  out->host = sizeof(ApCohort) + blocks * (double)(sizeof(Block) + z.block_state);
  /* a thread holds one cohort's scratch at a time (cpu_run) */
  out->work = (threads < blocks ? threads : blocks) * (double)(z.wk + z.perm + z.frozen);
}

static ap_status cpu_state_set(ApCohort *c, const float *state, ApError *err) {
  (void)err;
  if (c->wide) {
    mc_wide_state_set(c->wide, state);
    return AP_OK;
  }
  size_t n = (size_t)c->lay.n_floats;
  for (int bi = 0; bi < c->n_blocks; bi++) {
    Block *b = &c->blocks[bi];
    for (int l = 0; l < MC_LN; l++) {
      const float *src = state + (size_t)(bi * MC_LN + (l < b->n_real ? l : 0)) * n;
      for (size_t e = 0; e < n; e++) b->state[e * MC_LN + (size_t)l] = src[e];
    }
  }
  return AP_OK;
}

static ap_status cpu_state_get(ApCohort *c, float *state, ApError *err) {
  (void)err;
  if (c->wide) {
    mc_wide_state_get(c->wide, state);
    return AP_OK;
  }
  size_t n = (size_t)c->lay.n_floats;
  for (int bi = 0; bi < c->n_blocks; bi++) {
    Block *b = &c->blocks[bi];
    for (int l = 0; l < b->n_real; l++) {
      float *dst = state + (size_t)(bi * MC_LN + l) * n;
      for (size_t e = 0; e < n; e++) dst[e] = b->state[e * MC_LN + (size_t)l];
    }
  }
  return AP_OK;
}

typedef struct Task {
  ApCohort *c;
  Block *b;
  int ci; /* the cohort's index in the call */
} Task;

static int task_by_cost(const void *a, const void *b) {
  double x = ((const Task *)a)->c->cost, y = ((const Task *)b)->c->cost;
  return (x < y) - (x > y);
}

/* Runs one block from `from` to `to` (samples) with a thread's scratch. */
static void block_run(Block *blk, const Scratch *s, const ApCohort *c, ApPos from, ApPos to,
                      const ApSeriesBuf *out) {
  McBody b = {.st = blk->state,
              .frozen = s->frozen,
              .wk = s->wk,
              .perm = s->perm,
              .stride = MC_LN,
              .lay = &c->lay,
              .wo = &c->wo,
              .k = &blk->k,
              .sch = c->sch,
              .data = c->data,
              .team = 1};
  McOut o = {.base = out->base,
             .row_stride = (size_t)out->n_records * (size_t)out->width,
             .col0 = 0,
             .width = out->width,
             .rows = blk->rows,
             .n_real = blk->n_real};
  mc_body_records(&b, from, to, &o);
}

/* All blocks of all cohorts form one pool of independent tasks, longest first, so a
 * sweep with few replicas per schedule still keeps every core busy. */
/* from and to in samples (mc_units); record starts where the host does not cut records. */
static ap_status cpu_run(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                         const ApSeriesBuf *out, double *busy, ApError *err) {
  int n_tasks = 0, threads = 1, n_wide = 0;
  McWide **wide = malloc((size_t)(n_cohorts ? n_cohorts : 1) * sizeof *wide);
  int *wide_ci = malloc((size_t)(n_cohorts ? n_cohorts : 1) * sizeof *wide_ci);
  if (!wide || !wide_ci) {
    free(wide);
    free(wide_ci);
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  }
  for (int i = 0; i < n_cohorts; i++)
    if (cohorts[i]->wide) wide_ci[n_wide] = i, wide[n_wide++] = cohorts[i]->wide;
  if (busy)
    for (int i = 0; i < n_cohorts; i++) busy[i] = 0.0;
  ap_status wst = mc_wide_run(wide, wide_ci, n_wide, from, to, out, busy, err);
  free(wide);
  free(wide_ci);
  if (wst) return wst;
  for (int i = 0; i < n_cohorts; i++) {
    if (cohorts[i]->wide) continue;
    n_tasks += cohorts[i]->n_blocks;
    threads = cohorts[i]->threads > threads ? cohorts[i]->threads : threads;
  }
  Task *tasks = malloc((size_t)(n_tasks ? n_tasks : 1) * sizeof *tasks);
  if (!tasks) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  int t = 0;
  for (int i = 0; i < n_cohorts; i++)
    for (int bi = 0; !cohorts[i]->wide && bi < cohorts[i]->n_blocks; bi++)
      tasks[t++] = (Task){.c = cohorts[i], .b = &cohorts[i]->blocks[bi], .ci = i};
  qsort(tasks, (size_t)n_tasks, sizeof *tasks, task_by_cost);
  /* no more threads than blocks: an idle thread would only wait */
  int failed = 0, nt = n_tasks > 0 && n_tasks < threads ? n_tasks : threads;
#pragma omp parallel num_threads(nt)
  {
    Scratch s = {.wk = NULL, .perm = NULL, .frozen = NULL};
    const ApCohort *have = NULL;
    int ok = 1;
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n_tasks; i++) {
      if (!ok) continue;
      if (tasks[i].c != have) {
        if (have) scratch_free(&s);
        have = NULL;
        if (scratch_init(&s, tasks[i].c) != AP_OK) {
          ok = 0;
#pragma omp atomic write
          failed = 1;
          continue;
        }
        have = tasks[i].c;
      }
      double t0 = busy ? ap_seconds() : 0.0;
      block_run(tasks[i].b, &s, tasks[i].c, from, to, out);
      if (busy) {
        double took = ap_seconds() - t0;
#pragma omp atomic
        busy[tasks[i].ci] += took;
      }
    }
    if (have) scratch_free(&s);
  }
  free(tasks);
  if (failed) return ap_fail(err, AP_ERR_OSERR, "out of memory for work arrays");
  return AP_OK;
}

static void cpu_describe(const ApCohort *c, char *buf, size_t n) {
  if (c->wide) {
    mc_wide_describe(c->wide, buf, n);
    return;
  }
  snprintf(buf, n, "%d block%s of %d lanes", c->n_blocks, c->n_blocks == 1 ? "" : "s", MC_LN);
}

const ApModelImpl mc_cpu_impl = {
    .versions = "lanes|wide",
    .cohort_create = cpu_cohort_create,
    .cohort_destroy = cpu_cohort_destroy,
    .state_set = cpu_state_set,
    .state_get = cpu_state_get,
    .run = cpu_run,
    .describe = cpu_describe,
};
