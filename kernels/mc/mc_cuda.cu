/* The microcircuit on the CUDA backend.
 *
 * Layout on the device: for the generic and warp kernels every per-replica array is
 * replica-innermost, x[element][R_pad] (R_pad = the replicas of a part rounded up to a
 * warp), so the 32 threads of a warp, one replica each, load and store consecutive words;
 * the host transposes at the boundary (state_set / state_get). The wide kernel's arrays
 * are replica-major, x[replica][element], the canonical layout itself (copies at the
 * boundary), so that the 32 lanes of a warp walking one replica's row load consecutive
 * words. The state fields are the canonical ones of mc_params.h.
 *
 * Kernel versions (STYLE.md: keep the plain port, add faster ones beside it). Both give
 * the CPU backend's numbers bit for bit, so the choice changes speed only:
 *   generic  one thread per replica runs mc_body.h with one lane: the very body the CPU
 *            backend runs with 16; any dims. State and work arrays in global memory.
 *   wide     n_blocks blocks per replica run mc_body.h as one team (McBody.rank = block
 *            * THREADS + thread): every loop over neurons split among the threads (rows
 *            dealt out over all warps first, mc_team_chunk), each row of a product over
 *            MC_WIDE_MIN_PRE inputs or more summed by a whole warp in the wide path's
 *            partial sums (mc_matvec: lane q holds partials q and q + 32, the tree by
 *            shuffles), its weights stepped by the warp (W_up's step fused into the
 *            product, as on the CPU's wide path). With fewer replicas than SMs a replica
 *            takes several blocks (as many as give each warp a row of the largest layer,
 *            at most SMs / replicas; wide:N asks for N), which meet at a grid barrier on
 *            a counter (mc_grid_barrier): one launch per record chunk, not one per phase,
 *            since a step has four barriers and a launch costs microseconds, and the CUDA
 *            simulator has no cooperative launch. That needs every block resident:
 *            wide_shape checks occupancy and the other wide cohorts' claims, and a probe
 *            that the device runs blocks side by side (the simulator's functional mode
 *            runs them one after the other: there it takes one block per replica).
 *            Any dims.
 *   warp     one warp per replica runs mw_records (mc_warp.h): lane i is hidden neuron i,
 *            every weight sits in its lane's registers for a whole launch, the only
 *            memory traffic is the sample and the series. For dims MW0-MW1-MW2 (9-30-3,
 *            Bars) and at most 64 samples; tests/test_warp.c runs the same code on the CPU.
 * "auto" takes wide for networks with a product over MC_WIDE_MIN_PRE inputs or more
 * (mc_wide_net: the sums of the CPU's auto path; generic then sums the same way), else
 * warp where it applies, else generic; ApExec.cuda_version names one. Which wins at which size,
 * and cuBLAS for wide layers, are for a session with a GPU to measure: no GPU measured
 * these choices yet.
 *
 * Replicas that do not fit in device memory at once are split into parts that take turns
 * (the state of the others waits on the host); a cohort that cannot fit even one warp's
 * worth of replicas is refused with the size it needs. Every CUDA call and launch is
 * checked, and every copy runs on the cohort's stream. */
#define MC_LN 1
#define MC_STRIDE_VARIES
#include <cuda_runtime.h>

/* ---- the wide kernel's team: rows, barrier and vote ------------------------------------- */

/* A wide team's rows: single neurons (in blocks of four, mc_emit's unit, where neurons
 * spike), dealt out over the warps of every block before a warp's second lane gets one,
 * so that a wide product's rows (each summed by a whole warp, mc_matvec) spread over all
 * warps and SMs of the replica. Team member = block * block size + thread; a bijection
 * of the ranks, so every chunk has one owner. */
#define MC_TEAM_ALIGN ((b)->sch.spiking ? 4 : 1)
#define MC_TEAM_CHUNK(b) mc_team_chunk((b)->rank, (b)->n_blocks)
/* The wide kernel's blocks are MC_WIDE_THREADS threads (THREADS below): the divisions by
 * the block size are shifts (an integer division is a long-latency instruction, and this
 * runs at every loop over neurons). A team of one block (n_blocks 0: records_body) takes
 * its ranks as they are. */
#define MC_WIDE_THREADS 128
static __host__ __device__ __forceinline__ int mc_team_chunk(int rank, int n_blocks) {
  if (n_blocks < 1) return rank;
  const int blk = rank / MC_WIDE_THREADS, t = rank % MC_WIDE_THREADS; /* rank >= 0 */
  return (t % 32) * (n_blocks * (MC_WIDE_THREADS / 32)) + (t / 32) * n_blocks + blk;
}

/* The barrier of a replica's n blocks (all resident: cohort_alloc checks it). bar[0]
 * counts arrivals over the whole launch (zeroed before each launch): barrier k of the
 * launch is passed when it reaches (k + 1) n, mod 2^32 (a block is never a barrier
 * ahead of the slowest, so the signed difference decides). Each block's thread 0
 * arrives with one atomic and polls; the fences publish the block's writes before its
 * arrival and order its later reads after the others' (cooperative groups' grid.sync
 * does the same). Polls are atomics: they are served by L2, never by a stale L1 line.
 * mc_bar_goal: the count the block waits for next (thread 0's). */
static __shared__ unsigned mc_bar_goal;
static __device__ __forceinline__ void mc_grid_barrier(unsigned *bar, int n) {
  __syncthreads();
  if (n > 1) {
    if (threadIdx.x == 0) {
      const unsigned goal = mc_bar_goal + (unsigned)n;
      mc_bar_goal = goal;
      __threadfence();
      atomicAdd(bar, 1u);
      while ((int)(atomicAdd(bar, 0u) - goal) < 0) {
      }
      __threadfence();
    }
    __syncthreads();
  }
}

/* Whether v is nonzero for some member of the team; the answer is the lead's (rank 0),
 * which reads and clears the flag bar[2] (set again only after later barriers). */
static __device__ __forceinline__ int mc_lead_any(unsigned *bar, int n, int lead, int v) {
  if (v) atomicOr(bar + 2, 1u);
  mc_grid_barrier(bar, n);
  return lead ? atomicExch(bar + 2, 0u) != 0u : 0;
}

#if defined(__CUDA_ARCH__)
#define MC_BARRIER_OF(b) ((b)->bar ? mc_grid_barrier((b)->bar, (b)->n_blocks) : __syncthreads())
#define MC_LEAD_ANY(b, v) mc_lead_any((b)->bar, (b)->n_blocks, (b)->rank == 0, (v))
#endif
/* the self-prediction sums are the last warp's (the last block's): it holds no row of a
 * layer of fewer neurons than warps, so the sums overlap the output layer's rows */
#define MC_TRACKER_RANK(b) ((b)->team >= 64 ? (b)->team - 32 : 0)

#include "mc_body.h"
#include "mc_warp.h"

#include "../backend.h"
#include "../backend_cuda.cuh"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARP MC_CUDA_WARP
#define THREADS MC_WIDE_THREADS
#define MAX_CHUNK MC_CUDA_CHUNK /* records per launch: bounds the device series buffer */

/* ---- kernels: indexing and launch only; the model is mc_body.h / mc_warp.h ----------- */

/* Replica r's records from from.record on, in its slice of the launch's series buffer
 * ([R][MAX_CHUNK][width]). */
static __device__ __forceinline__ McOut replica_out(float *series, int r, int width, ApPos from) {
  McOut o = {.base = series + (size_t)r * MAX_CHUNK * width,
             .row_stride = (size_t)MAX_CHUNK * width,
             .col0 = from.record,
             .width = width,
             .rows = NULL,
             .n_real = 1};
  return o;
}

/* The body's kernel, generic: thread i of the grid runs replica i alone, from `from` to
 * `to` (samples, mc_units). */
static __global__ void __launch_bounds__(THREADS)
    records_body(float *state, float *work, uint32_t *perm, const McConst *cst, const McLayout *lay,
                 McWork wo, McSched sch, ApData data, ApPos from, ApPos to, float *series,
                 int width, int R, int R_pad, int wide_sum) {
  int r = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (r >= R) return;
  McLanes k;
  mc_lanes_set(&k, 0, &cst[r]);
  mc_lanes_finish(&k);
  McBody b = {.st = state + r,
              .wk = work + r,
              .perm = perm + r,
              .stride = (size_t)R_pad,
              .lay = lay,
              .wo = &wo,
              .k = &k,
              .sch = sch,
              .data = &data,
              .team = 1,
              .wide_sum = wide_sum};
  McOut o = replica_out(series, r, width, from);
  mc_body_records(&b, from, to, &o);
}

/* The wide kernel: replica r runs on blocks r * n_blocks ... + n_blocks - 1, their threads
 * one team (McBody.rank); its arrays replica-major (st + r * n_floats, stride 1), so that a
 * warp's loads along a row are neighbouring words. */
static __global__ void __launch_bounds__(THREADS)
    records_wide(float *state, float *work, uint32_t *perm, const McConst *cst, const McLayout *lay,
                 McWork wo, McSched sch, ApData data, ApPos from, ApPos to, float *series,
                 int width, int R, int n_samples, int n_blocks, unsigned *bar) {
  const int r = (int)blockIdx.x / n_blocks, blk = (int)blockIdx.x % n_blocks;
  if (r >= R) return; /* a replica's blocks leave together */
  const size_t nf = (size_t)lay->n_floats;
  /* the replica's constants, work offsets and data pointers, the same for every thread of
   * the block: in shared memory (a thread's own copies, indexed by layer, would sit in
   * local memory, whose loads the step waits on as on any global load) */
  __shared__ McLanes k;
  __shared__ McWork wo_sh;
  __shared__ ApData data_sh;
  if (threadIdx.x == 0) {
    mc_bar_goal = 0u; /* bar[0] is zero at the launch */
    mc_lanes_set(&k, 0, &cst[r]);
    mc_lanes_finish(&k);
    wo_sh = wo;
    data_sh = data;
  }
  __syncthreads();
  McBody b = {.st = state + (size_t)r * nf,
              .wk = work + (size_t)r * (size_t)wo.n_rows,
              .perm = perm + (size_t)r * (size_t)n_samples,
              .stride = 1,
              .lay = lay,
              .wo = &wo_sh,
              .k = &k,
              .sch = sch,
              .data = &data_sh,
              .rank = blk * (int)blockDim.x + (int)threadIdx.x,
              .team = n_blocks * (int)blockDim.x,
              .wide_sum = MC_WIDE_WARP,
              .bar = bar + 4 * (size_t)r,
              .n_blocks = n_blocks};
  McOut o = replica_out(series, r, width, from);
  mc_body_records(&b, from, to, &o);
}

static __global__ void __launch_bounds__(THREADS)
    records_warp(float *state, const McConst *cst, const McLayout *lay, McSched sch, ApData data,
                 ApPos from, ApPos to, float *series, int width, int R, int R_pad) {
  __shared__ __align__(16) float sh[THREADS / WARP][MW_SHARED_FLOATS];
  int r = (int)((blockIdx.x * blockDim.x + threadIdx.x) / WARP);
  if (r >= R) return; /* whole warps leave together */
  McView st = {state + r, (size_t)R_pad};
  mw_records(st, lay, cst + r, &sch, &data, from, to, series + (size_t)r * MAX_CHUNK * width,
             from.record, width, sh[threadIdx.x / WARP]);
}

enum { KERNEL_GENERIC, KERNEL_WARP, KERNEL_WIDE };
static const char *const kernel_names[] = {"generic", "warp", "wide"};

/* ---- cohorts ------------------------------------------------------------------------- */

struct ApCohort {
  McLayout lay;
  McWork wo;
  McSched sch;
  ApData data; /* device pointers */
  int has_data;
  int R;             /* replicas */
  int part, n_parts; /* replicas per part (a multiple of 32), parts */
  int n_samples;     /* largest sample set: the order buffer's length */
  int width;         /* series floats per record */
  McConst *h_const;  /* [R] */
  int *h_rows;       /* [R] series rows */
  float *h_state;    /* [R][n_floats] canonical; the truth when n_parts > 1 */
  float *h_stage;    /* [n_floats][part] transposing area */
  float *h_series;   /* [part][MAX_CHUNK][width] */
  /* device, sized for one part */
  McLayout *d_lay;
  McConst *d_const; /* [part] of the resident part */
  float *d_state;   /* [n_floats][part] */
  float *d_work;    /* [wo.n_rows][part] */
  int wide_sum;     /* the generic kernel sums as the wide path (mc_wide_net) */
  uint32_t *d_perm; /* [n_samples][part] */
  float *d_series;  /* [part][MAX_CHUNK][width] */
  int resident;     /* which part is on the device (-1: none) */
  int kernel;       /* KERNEL_* */
  int n_sm;         /* the device's SMs: the warp and generic kernels' launch shape */
  cudaStream_t stream;
  /* the wide kernel: arrays replica-major ([part][n_floats], ...); n_blocks blocks per
   * replica, all resident at once (claimed: the blocks counted in resident_claimed) */
  int n_blocks, claimed;
  unsigned *d_bar; /* [part][4] the replicas' barriers (mc_grid_barrier) and votes */
};

/* Blocks of wide kernels that wait on each other, all live cohorts together: their sum
 * stays within what the device holds at once, so no barrier waits on a block that cannot
 * start. */
static int resident_claimed;

static int part_size(const ApCohort *c, int p) {
  int left = c->R - p * c->part;
  return left < c->part ? left : c->part;
}

static void cuda_cohort_destroy(ApCohort *c) {
  if (!c) return;
  cudaFree(c->d_lay);
  cudaFree(c->d_const);
  cudaFree(c->d_state);
  cudaFree(c->d_work);
  cudaFree(c->d_perm);
  cudaFree(c->d_series);
  cudaFree(c->d_bar);
  resident_claimed -= c->claimed;
  if (c->stream) cudaStreamDestroy(c->stream);
  if (c->has_data) ap_cuda_data_release();
  free(c->h_const);
  free(c->h_rows);
  free(c->h_state);
  free(c->h_stage);
  free(c->h_series);
  free(c);
}

/* Whether the device runs a grid's blocks side by side: block 0 waits (a bounded number
 * of polls) for block 1's flag. A GPU does; the CUDA simulator's functional mode runs one
 * block after the other (then a grid barrier would wait for ever), its performance mode
 * side by side. Asked once per process. */
static __global__ void side_by_side_probe(unsigned *f, int polls) {
  if (threadIdx.x != 0) return;
  if (blockIdx.x == 1) {
    atomicExch(f, 1u);
    return;
  }
  unsigned seen = 0;
  for (int i = 0; i < polls && !seen; i++) seen = atomicAdd(f, 0u);
  f[1] = seen;
}

static ap_status side_by_side(cudaStream_t s, int *out, ApError *err) {
  static int known = -1;
  if (known < 0) {
    unsigned *f = NULL, h[2] = {0, 0};
    CUDA_CHECK(cudaMalloc(&f, 2 * sizeof(unsigned)));
    CUDA_CHECK(cudaMemsetAsync(f, 0, 2 * sizeof(unsigned), s));
    side_by_side_probe<<<2, WARP, 0, s>>>(f, 4096);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaMemcpyAsync(h, f, sizeof h, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaFree(f));
    known = h[1] != 0;
  }
  *out = known;
  return AP_OK;
}

/* The wide kernel's blocks per replica: with fewer replicas than SMs, as many as share
 * the SMs out (each warp then sums at least one row of the largest layer; requested:
 * wide:N), when the device runs them side by side and they fit beside the other wide
 * cohorts' (resident_claimed); else one block per replica (its barrier __syncthreads). */
static ap_status wide_shape(ApCohort *c, const McDims *d, int requested, ApError *err) {
  int dev = 0, per_sm = 0, together = 0;
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  int n_rep = c->n_parts == 1 ? c->R : c->part, rows = 1;
  for (int l = 1; l <= d->n_layers; l++) rows = d->n[l] > rows ? d->n[l] : rows;
  int want = requested;
  if (!want) {
    int warps = THREADS / WARP, cap = (rows + warps - 1) / warps;
    want = prop.multiProcessorCount / n_rep;
    want = want < cap ? want : cap;
  }
  c->n_blocks = 1;
  if (want <= 1) return AP_OK;
  ap_status st = side_by_side(c->stream, &together, err);
  if (st) return st;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&per_sm, records_wide, THREADS,
                                                                    0, cudaOccupancyDefault));
  int room = per_sm * prop.multiProcessorCount - resident_claimed;
  if (!together || want * n_rep > room) return AP_OK;
  c->n_blocks = want;
  c->claimed = want * n_rep;
  resident_claimed += c->claimed;
  return AP_OK;
}

static ap_status cohort_alloc(ApCohort *c, const ApCohortSpec *spec, ApError *err) {
  const McParams *params = (const McParams *)spec->params;
  const ApData *data = spec->data;
  McDims dims = mc_dims(&params[0]);
  if (mc_layout_init(&c->lay, &dims, NULL))
    return ap_fail(err, AP_ERR_CONFIG, "microcircuit: bad dims");
  mc_work_init(&c->wo, &dims);
  c->sch = mc_sched(&params[0], data);
  c->sch.n_records = spec->n_records;
  c->R = spec->n;
  c->resident = -1;
  c->width = spec->layout->series_width;
  const char *v = spec->exec.cuda_version;
  int fits = mw_fits(&dims, params[0].neuron, data);
  c->wide_sum = mc_wide_net(&dims);
  int wide_blocks = 0; /* wide:N, N blocks per replica (0: as many as help) */
  if (!v || !*v || !strcmp(v, "auto"))
    c->kernel = c->wide_sum ? KERNEL_WIDE : fits ? KERNEL_WARP : KERNEL_GENERIC;
  else if (!strcmp(v, "generic"))
    c->kernel = KERNEL_GENERIC;
  else if (!strcmp(v, "wide"))
    c->kernel = KERNEL_WIDE;
  else if (!strncmp(v, "wide:", 5) && atoi(v + 5) >= 1 && atoi(v + 5) <= 1024) {
    c->kernel = KERNEL_WIDE;
    wide_blocks = atoi(v + 5);
  } else if (!strcmp(v, "warp") && fits)
    c->kernel = KERNEL_WARP;
  else
    return ap_fail(
        err, AP_ERR_USAGE,
        "cuda kernel %s: expected auto, generic, wide, wide:N or warp (warp only for rate "
        "neurons, dims %d-%d-%d and at most %d samples)",
        v, MW0, MW1, MW2, MW_MAX_SAMPLES);
  c->n_samples = data->n_train > data->n_val ? data->n_train : data->n_val;
  /* every array's size comes from mc_cuda_size, which the estimate adds up too */
  McCudaSize z = mc_cuda_size(&params[0], data, c->width);
  c->h_const = (McConst *)malloc((size_t)c->R * z.h_const);
  c->h_rows = (int *)malloc((size_t)c->R * z.h_rows);
  c->h_state = (float *)calloc((size_t)c->R, z.h_state);
  if (!c->h_const || !c->h_rows || !c->h_state)
    return ap_fail(err, AP_ERR_OSERR, "out of host memory for %d replicas", c->R);
  for (int r = 0; r < c->R; r++) mc_const_init(&c->h_const[r], &params[r]);
  memcpy(c->h_rows, spec->rows, (size_t)c->R * sizeof(int));

  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&c->n_sm, cudaDevAttrMultiProcessorCount, dev));
  if (c->n_sm < 1) c->n_sm = 1;

  /* how many replicas fit on the device at once */
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  size_t per = z.d_per_replica, budget = ap_device_budget(free_b);
  budget = budget > z.d_fixed ? budget - z.d_fixed : 0;
  size_t want = ((size_t)c->R + WARP - 1) / WARP * WARP;
  size_t fit = budget / per / WARP * WARP;
  if (fit == 0)
    return ap_fail(err, AP_ERR_OSERR,
                   "cuda: %zu bytes per replica; %d replicas need %.1f MiB, "
                   "%.1f MiB are free",
                   per, WARP, (double)(per * WARP) / 1048576.0, (double)free_b / 1048576.0);
  c->part = (int)(want < fit ? want : fit);
  c->n_parts = (c->R + c->part - 1) / c->part;

  size_t P = (size_t)c->part;
  c->h_stage = (float *)malloc(P * z.h_stage);
  c->h_series = (float *)malloc(P * z.h_series);
  if (!c->h_stage || !c->h_series) return ap_fail(err, AP_ERR_OSERR, "out of host memory");
  CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  CUDA_CHECK(cudaMalloc(&c->d_lay, z.d_fixed));
  CUDA_CHECK(
      cudaMemcpyAsync(c->d_lay, &c->lay, sizeof(McLayout), cudaMemcpyHostToDevice, c->stream));
  CUDA_CHECK(cudaMalloc(&c->d_const, P * z.d_const));
  CUDA_CHECK(cudaMalloc(&c->d_state, P * z.d_state));
  CUDA_CHECK(cudaMalloc(&c->d_work, P * z.d_work));
  CUDA_CHECK(cudaMalloc(&c->d_perm, P * z.d_perm));
  CUDA_CHECK(cudaMalloc(&c->d_series, P * z.d_series));
  ap_status st = ap_cuda_data_acquire(data, c->stream, &c->data, err);
  if (st) return st;
  c->has_data = 1;
  if (c->kernel == KERNEL_WIDE) {
    c->wo.fuse = 1; /* W_up's step inside the next product, as the CPU's wide path */
    CUDA_CHECK(cudaMalloc(&c->d_bar, P * 4 * sizeof(unsigned)));
    CUDA_CHECK(cudaMemsetAsync(c->d_bar, 0, P * 4 * sizeof(unsigned), c->stream));
    st = wide_shape(c, &dims, wide_blocks, err);
    if (st) return st;
  }
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return AP_OK;
}

static ap_status cuda_cohort_create(const ApCohortSpec *spec, ApCohort **out, ApError *err) {
  ApCohort *c = (ApCohort *)calloc(1, sizeof *c);
  if (!c) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  ap_status st = cohort_alloc(c, spec, err);
  if (st) {
    cuda_cohort_destroy(c);
    return st;
  }
  *out = c;
  return AP_OK;
}

/* Puts part p's state and constants on the device. */
static ap_status upload_part(ApCohort *c, int p, ApError *err) {
  size_t nf = (size_t)c->lay.n_floats, P = (size_t)c->part;
  int n = part_size(c, p);
  if (c->kernel == KERNEL_WIDE) { /* replica-major, as the canonical layout */
    CUDA_CHECK(cudaMemcpyAsync(c->d_const, c->h_const + (size_t)p * P, (size_t)n * sizeof(McConst),
                               cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaMemcpyAsync(c->d_state, c->h_state + (size_t)p * P * nf,
                               (size_t)n * nf * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    c->resident = p;
    return AP_OK;
  }
  for (int i = 0; i < n; i++) {
    const float *src = c->h_state + (size_t)(p * c->part + i) * nf;
    for (size_t e = 0; e < nf; e++) c->h_stage[e * P + (size_t)i] = src[e];
  }
  CUDA_CHECK(cudaMemcpyAsync(c->d_const, c->h_const + (size_t)p * P, (size_t)n * sizeof(McConst),
                             cudaMemcpyHostToDevice, c->stream));
  CUDA_CHECK(cudaMemcpyAsync(c->d_state, c->h_stage, nf * P * sizeof(float), cudaMemcpyHostToDevice,
                             c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  c->resident = p;
  return AP_OK;
}

static ap_status download_part(ApCohort *c, ApError *err) {
  if (c->resident < 0) return AP_OK;
  size_t nf = (size_t)c->lay.n_floats, P = (size_t)c->part;
  int p = c->resident, n = part_size(c, p);
  if (c->kernel == KERNEL_WIDE) { /* replica-major, as the canonical layout */
    CUDA_CHECK(cudaMemcpyAsync(c->h_state + (size_t)p * P * nf, c->d_state,
                               (size_t)n * nf * sizeof(float), cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return AP_OK;
  }
  CUDA_CHECK(cudaMemcpyAsync(c->h_stage, c->d_state, nf * P * sizeof(float), cudaMemcpyDeviceToHost,
                             c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int i = 0; i < n; i++) {
    float *dst = c->h_state + (size_t)(p * c->part + i) * nf;
    for (size_t e = 0; e < nf; e++) dst[e] = c->h_stage[e * P + (size_t)i];
  }
  return AP_OK;
}

static ap_status cuda_state_set(ApCohort *c, const float *state, ApError *err) {
  memcpy(c->h_state, state, (size_t)c->R * (size_t)c->lay.n_floats * sizeof(float));
  c->resident = -1;
  return c->n_parts == 1 ? upload_part(c, 0, err) : AP_OK;
}

static ap_status cuda_state_get(ApCohort *c, float *state, ApError *err) {
  ap_status st = download_part(c, err);
  if (st) return st;
  memcpy(state, c->h_state, (size_t)c->R * (size_t)c->lay.n_floats * sizeof(float));
  return AP_OK;
}

/* The warp and generic kernels' block: unit threads per replica (a warp, or one thread),
 * as few replicas per block as give every SM a block, at most THREADS threads. Both are
 * bound by the latency of one replica's step, not by the SM's throughput, so a cohort of
 * 1024 replicas runs on every SM (blocks of 8 threads on 132 SMs) rather than on 8 (blocks
 * of 128); a replica's numbers do not depend on its block. */
static int block_threads(const ApCohort *c, int n, int unit) {
  long t = ((long)n + c->n_sm - 1) / c->n_sm * unit;
  return t < THREADS ? (int)t : THREADS;
}

/* Launches the resident part from `from` to `to` (samples; at most MAX_CHUNK records). */
static ap_status launch(ApCohort *c, ApPos from, ApPos to, ApError *err) {
  int n = part_size(c, c->resident);
  if (c->kernel == KERNEL_WIDE) {
    /* the barriers count from zero in every launch (mc_grid_barrier) */
    CUDA_CHECK(cudaMemsetAsync(c->d_bar, 0, (size_t)c->part * 4 * sizeof(unsigned), c->stream));
    records_wide<<<n * c->n_blocks, THREADS, 0, c->stream>>>(
        c->d_state, c->d_work, c->d_perm, c->d_const, c->d_lay, c->wo, c->sch, c->data, from, to,
        c->d_series, c->width, n, c->n_samples, c->n_blocks, c->d_bar);
  } else if (c->kernel == KERNEL_WARP) {
    int threads = block_threads(c, n, WARP);
    int blocks = (int)(((size_t)n * WARP + (size_t)threads - 1) / (size_t)threads);
    records_warp<<<blocks, threads, 0, c->stream>>>(c->d_state, c->d_const, c->d_lay, c->sch,
                                                    c->data, from, to, c->d_series, c->width, n,
                                                    c->part);
  } else {
    int threads = block_threads(c, n, 1), blocks = (n + threads - 1) / threads;
    records_body<<<blocks, threads, 0, c->stream>>>(c->d_state, c->d_work, c->d_perm, c->d_const,
                                                    c->d_lay, c->wo, c->sch, c->data, from, to,
                                                    c->d_series, c->width, n, c->part, c->wide_sum);
  }
  CUDA_CHECK(cudaGetLastError());
  return AP_OK;
}

/* Waits for the resident part's launch and copies the series of records e0 .. e1-1 (those
 * a launch from record e0 ended) into the run's. */
static ap_status collect(ApCohort *c, int e0, int e1, const ApSeriesBuf *out, ApError *err) {
  int p = c->resident, n = part_size(c, p), cols = e1 - e0, F = c->width;
  size_t row = (size_t)MAX_CHUNK * (size_t)F;
  if (cols > 0)
    CUDA_CHECK(cudaMemcpyAsync(c->h_series, c->d_series, (size_t)n * row * sizeof(float),
                               cudaMemcpyDeviceToHost, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream)); /* the call's time is the launch's */
  for (int i = 0; i < n; i++) {
    size_t r = (size_t)c->h_rows[p * c->part + i];
    memcpy(out->base + (r * (size_t)out->n_records + (size_t)e0) * (size_t)F,
           c->h_series + (size_t)i * row, (size_t)cols * (size_t)F * sizeof(float));
  }
  return AP_OK;
}

/* busy stays as it is: the cohorts' kernels overlap on their streams, and no per-cohort
 * time is measured. from and to in samples (mc_units; record starts where the host does
 * not cut records); a launch touches at most MAX_CHUNK records (the series buffer). */
static ap_status cuda_run(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                          const ApSeriesBuf *out, double *busy, ApError *err) {
  (void)busy;
  for (ApPos a = from; a.record < to.record || (a.record == to.record && a.unit < to.unit);) {
    ApPos b = to.record < a.record + MAX_CHUNK ? to : (ApPos){a.record + MAX_CHUNK - 1, 0};
    /* single-part cohorts run side by side on their streams; split ones take turns */
    for (int i = 0; i < n_cohorts; i++) {
      ApCohort *c = cohorts[i];
      if (c->n_parts > 1) continue;
      ap_status st = launch(c, a, b, err);
      if (st) return st;
    }
    for (int i = 0; i < n_cohorts; i++) {
      ApCohort *c = cohorts[i];
      ap_status st = AP_OK;
      if (c->n_parts == 1) {
        st = collect(c, a.record, b.record, out, err);
      } else {
        for (int p = 0; p < c->n_parts && !st; p++) {
          if (!(st = download_part(c, err)) && !(st = upload_part(c, p, err)) &&
              !(st = launch(c, a, b, err)))
            st = collect(c, a.record, b.record, out, err);
        }
      }
      if (st) return st;
    }
    a = b;
  }
  return AP_OK;
}

static void cuda_describe_cohort(const ApCohort *c, char *buf, size_t n) {
  int k = snprintf(buf, n, "kernel %s, %d part%s of %d", kernel_names[c->kernel], c->n_parts,
                   c->n_parts == 1 ? "" : "s", c->part);
  if (c->kernel == KERNEL_WIDE && k >= 0 && (size_t)k < n)
    snprintf(buf + k, n - (size_t)k, ", %d block%s of %d per replica", c->n_blocks,
             c->n_blocks == 1 ? "" : "s", THREADS);
}

static const ApModelImpl cuda_impl = {
    .versions = "generic|warp|wide",
    .cohort_create = cuda_cohort_create,
    .cohort_destroy = cuda_cohort_destroy,
    .state_set = cuda_state_set,
    .state_get = cuda_state_get,
    .run = cuda_run,
    .describe = cuda_describe_cohort,
};

extern "C" const ApModelImpl *mc_cuda_impl(void) { return &cuda_impl; }
