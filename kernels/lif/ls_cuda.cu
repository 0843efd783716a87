/* The LIF-STDP network on the CUDA backend: one thread block per replica is the team that
 * runs ls_body.h (the CPU backend's very body) through a stretch of steps in one launch:
 * whole records (series at each record's end) where no spike is kept, shorter stretches
 * inside the raster window so that the device's raster buffer holds every spike of one.
 *
 * Dimension letters: R replicas of the cohort, N neurons, E records of a launch (at most
 * `chunk`), F series floats per record, P raster pairs one replica may append in a launch.
 *
 * Layout on the device: each replica's state block exactly as the CPU backend lays it out
 * (ls_rep.h), blocks one after the other; each replica's network (ls_net.h, built on the
 * host from its seed) packed into one device region. The host converts canonical <->
 * internal with the CPU's code on a staged copy of the blocks and copies them whole.
 *
 * Order: the body's sums are fixed point and each plastic synapse has one writer, so the
 * state and series do not depend on the order the block's atomics take. The raster does:
 * spikes of a step are appended in atomic order, so the host sorts what each launch
 * appended by (step, neuron), the CPU's order, as it drains the buffer.
 *
 * Kernel versions:
 * - generic: one block of up to 256 threads per replica (one per group of four neurons),
 *   the whole stretch of steps in one launch, __syncthreads between the phases.
 * - split: B blocks per replica (4 per SM shared out over the replicas, at least 32
 *   neurons a block, at least 128 threads), two launches per step: the neurons (each block
 *   its range of neurons, their draws its own) and the synapses (each warp its share of
 *   the neurons with plastic inputs, each block every B-th spike), then two per
 *   record's end (the weight sums over all blocks; the series, one block per replica). Launches,
 * not a grid-wide barrier: the simulator that checks these kernels in CI runs one block after the
 * other in its functional mode (a barrier across blocks never returns there) and has no cooperative
 *   launch. The spike list's count alternates between two counters by the step's parity
 *   (d_cnt): the synapse launch of step s reads one and clears the other. A block with
 *   spikes to deliver first stages the pair weights (wfix) and, up to POP_SHARED neurons,
 *   pop[] in shared memory.
 * Both run the body with LS_ONE_PASS (a thread does a neuron's draws, inputs, step and
 * spike with the values in registers), LS_UNROLL 4 (a spike's static synapses, four loads
 * in flight per thread) and warp ballots over the neurons with plastic inputs.
 * auto picks split when it gives a replica at least two blocks.
 * A cohort that does not fit in device memory is refused with the size it needs. Every
 * CUDA call and launch is checked, and every copy runs on the cohort's stream. */
#define LS_FN static __device__ inline
#define LS_SYNC() __syncthreads()
#define LS_GROUP 32
#define LS_BALLOT(pred) __ballot_sync(0xffffffffu, (pred))
/* the lowest set bit's index (no __ffs: the CUDA simulator cannot parse its bfind) */
#define LS_LOWEST(mask) __popc(((mask) & (0u - (mask))) - 1u)
#define LS_ONE_PASS
#define LS_UNROLL 4 /* a spike's static synapses: four loads in flight per thread */
#define LS_ADD64(p, v) atomicAdd((unsigned long long *)(p), (unsigned long long)(v))
#define LS_TAKE(p) atomicAdd((p), 1)
#include "ls_rep.h"

#include "../backend.h"
#include "../backend_cuda.cuh"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 256         /* a block: a team of up to this many threads */
#define MAX_CHUNK LS_CUDA_CHUNK /* records per launch (the buffers' sizes: ls_cuda_size) */
#define SPLIT_PER_SM 4          /* the split kernel's blocks per SM (its launches' shape) */
#define POP_SHARED 4096         /* the synapse launch stages pop[] in shared memory up to this N */

/* ---- the kernel: indexing and launch only; the model is ls_body.h ------------------- */

/* The block as a team of one block, over n neurons. */
static __device__ __forceinline__ LsTeam block_team(int n) {
  LsTeam t = {.tid = (int)threadIdx.x,
              .nth = (int)blockDim.x,
              .blk = 0,
              .nblk = 1,
              .btid = (int)threadIdx.x,
              .bnth = (int)blockDim.x};
  ls_team_neurons(&t, n);
  return t;
}

/* Block r runs replica r through steps s0 .. s1-1. Its LsRep (with this launch's raster
 * buffer), LsConst and the dimensions are read into shared memory once. A record whose
 * last step is in the launch writes its series to slot e - s0 / steps of the replica's
 * [E][F]; the spikes appended to the raster are counted into n_rast[r], and the device's
 * count starts again from 0 at the next launch. */
static __global__ void __launch_bounds__(MAX_THREADS)
    ls_steps(const LsRep *reps, const LsConst *cst, LsDims d, LsSeries ser, long long s0,
             long long s1, float *series, int chunk, uint32_t *rast, int rast_cap, int *n_rast) {
  __shared__ LsRep rep;
  __shared__ LsConst k;
  __shared__ LsDims dims;
  __shared__ LsSeries sr;
  int r = blockIdx.x;
  LsTeam t = block_team(d.N);
  if (t.tid == 0) {
    rep = reps[r];
    k = cst[r];
    dims = d;
    sr = ser;
    rep.rast = rast ? rast + 2 * (size_t)r * (size_t)rast_cap : NULL;
    rep.rast_cap = rast ? rast_cap : 0;
  }
  __syncthreads();
  LsBody b = {.r = &rep, .k = &k, .d = &dims, .ser = &sr};
  long long e_base = s0 / d.steps;
  float *rows = series + (size_t)r * (size_t)chunk * (size_t)ser.width; /* [E][F] */
  int step = (int)(s0 % d.steps);
  for (long long s = s0; s < s1; s++) {
    if (step == 0) ls_record_start(t, &b);
    ls_step(t, &b, s);
    if (++step == d.steps) {
      ls_record_end(t, &b, s / d.steps, rows + (size_t)(s / d.steps - e_base) * ser.width);
      step = 0;
    }
  }
  if (t.tid == 0) {
    n_rast[r] = *rep.n_rast;
    *rep.n_rast = 0;
  }
}

/* The split kernel's launches: block blockIdx.x % B of replica blockIdx.x / B (B blocks
 * per replica). Each reads its replica's LsRep and LsConst into shared memory (the
 * block's threads word by word) and the dimensions. */
static __device__ inline void split_load(const LsRep *reps, const LsConst *cst, const LsDims *d,
                                         int r, LsRep *rep, LsConst *k, LsDims *dims) {
  const int *a = (const int *)&reps[r], *c = (const int *)&cst[r];
  int *ra = (int *)rep, *kc = (int *)k;
  for (int w = threadIdx.x; w < (int)(sizeof(LsRep) / sizeof(int)); w += blockDim.x) ra[w] = a[w];
  for (int w = threadIdx.x; w < (int)(sizeof(LsConst) / sizeof(int)); w += blockDim.x) kc[w] = c[w];
  if (threadIdx.x == 0) *dims = *d;
}

static __device__ inline LsTeam split_team(int B, int N) {
  int blk = (int)blockIdx.x % B, T = (int)blockDim.x;
  LsTeam t = {.tid = blk * T + (int)threadIdx.x,
              .nth = B * T,
              .blk = blk,
              .nblk = B,
              .btid = (int)threadIdx.x,
              .bnth = T};
  ls_team_neurons(&t, N);
  return t;
}

/* Step s's phase A: the spikes are counted into cnt[r][s % 2]. */
static __global__ void __launch_bounds__(MAX_THREADS)
    ls_split_neurons(const LsRep *reps, const LsConst *cst, LsDims d, long long s, int B, int *cnt,
                     uint32_t *rast, int rast_cap) {
  __shared__ LsRep rep;
  __shared__ LsConst k;
  __shared__ LsDims dims;
  int r = (int)blockIdx.x / B;
  split_load(reps, cst, &d, r, &rep, &k, &dims);
  __syncthreads();
  if (threadIdx.x == 0) {
    rep.n_spk = cnt + 2 * r + (int)(s & 1);
    rep.rast = rast ? rast + 2 * (size_t)r * (size_t)rast_cap : NULL;
    rep.rast_cap = rast ? rast_cap : 0;
  }
  __syncthreads();
  if (rep.status[0]) return; /* diverged: frozen (ls_diverge_close) */
  LsBody b = {.r = &rep, .k = &k, .d = &dims, .ser = NULL};
  ls_neurons(split_team(B, d.N), &b, s);
}

/* Step s's phases C to F, on the spikes counted in cnt[r][s % 2]; block 0 clears the other
 * counter (its step's launches have finished) for step s + 1. */
static __global__ void __launch_bounds__(MAX_THREADS)
    ls_split_synapses(const LsRep *reps, const LsConst *cst, LsDims d, long long s, int B,
                      int *cnt) {
  __shared__ LsRep rep;
  __shared__ LsConst k;
  __shared__ LsDims dims;
  int r = (int)blockIdx.x / B;
  split_load(reps, cst, &d, r, &rep, &k, &dims);
  int n = cnt[2 * r + (int)(s & 1)];
  if (blockIdx.x % B == 0 && threadIdx.x == 0) cnt[2 * r + (int)((s + 1) & 1)] = 0;
  __syncthreads();
  if (rep.status[0]) return;
  if ((int)blockIdx.x % B < n) {
    /* the block has spikes: the delivery's lookups (a target's population, the weight of a
     * pair of populations) from shared memory */
    __shared__ int64_t wfix[LS_POPS * LS_POPS];
    __shared__ uint32_t pops[POP_SHARED / 4];
    const int64_t *gw = rep.wfix;
    const uint32_t *gp = (const uint32_t *)rep.pop; /* (packed 16-byte aligned: whole words) */
    int stage = d.N <= POP_SHARED;
    for (int w = threadIdx.x; w < LS_POPS * LS_POPS; w += blockDim.x) wfix[w] = gw[w];
    for (int w = threadIdx.x; stage && w < (d.N + 3) / 4; w += blockDim.x) pops[w] = gp[w];
    __syncthreads(); /* every thread has read rep's pointers */
    if (threadIdx.x == 0) {
      rep.wfix = wfix;
      if (stage) rep.pop = (const uint8_t *)pops;
    }
    __syncthreads();
  }
  LsBody b = {.r = &rep, .k = &k, .d = &dims, .ser = NULL};
  ls_synapses(split_team(B, d.N), &b, s, n, NULL);
}

/* A record's end, first the weight sums and the divergence scan: every block of replica r
 * adds its share into wsum (zero since the last record's end) and flags what it finds. */
static __global__ void __launch_bounds__(MAX_THREADS)
    ls_split_sums(const LsRep *reps, const LsConst *cst, LsDims d, int B) {
  __shared__ LsRep rep;
  __shared__ LsConst k;
  __shared__ LsDims dims;
  int r = (int)blockIdx.x / B;
  split_load(reps, cst, &d, r, &rep, &k, &dims);
  __syncthreads();
  if (rep.status[0]) return;
  LsBody b = {.r = &rep, .k = &k, .d = &dims, .ser = NULL};
  LsTeam t = split_team(B, d.N);
  ls_weight_sums(t, &b);
  ls_diverge_scan(t, &b);
}

/* Then block r writes replica r's series of record e into slot `slot` of its [E][F] (NaN where it
 * froze, ls_diverge_close), and its sums and spike counts start again from zero for the next
 * record. */
static __global__ void __launch_bounds__(MAX_THREADS)
    ls_split_series(const LsRep *reps, const LsConst *cst, LsDims d, LsSeries ser, float *series,
                    int chunk, int slot, long long e) {
  __shared__ LsRep rep;
  __shared__ LsConst k;
  __shared__ LsDims dims;
  __shared__ LsSeries sr;
  int r = (int)blockIdx.x;
  split_load(reps, cst, &d, r, &rep, &k, &dims);
  if (threadIdx.x == 0) sr = ser;
  __syncthreads();
  LsTeam t = block_team(d.N);
  LsBody b = {.r = &rep, .k = &k, .d = &dims, .ser = &sr};
  float *out = series + ((size_t)r * (size_t)chunk + (size_t)slot) * (size_t)ser.width;
  if (!rep.status[0]) ls_series_write(t, &b, out);
  __syncthreads();
  if (t.tid == 0) ls_diverge_close(&b, e, out);
  __syncthreads();
  if (t.tid < 4) rep.wsum[t.tid] = 0;
  ls_record_start(t, &b);
}

/* After a stretch in the raster window: each replica's appended pairs into n_rast[r], and
 * the device's count from 0 again. */
static __global__ void ls_split_rast(const LsRep *reps, int R, int *n_rast) {
  int r = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (r >= R) return;
  n_rast[r] = *reps[r].n_rast;
  *reps[r].n_rast = 0;
}

/* ---- cohorts ------------------------------------------------------------------------- */

typedef struct Raster {
  uint32_t *pairs; /* [n][2] (neuron, step), in the CPU's order */
  size_t n, cap;
} Raster;

struct ApCohort {
  LsDims d;
  LsSeries ser;
  int R;
  size_t canon;         /* floats of one replica's canonical state (the layout's) */
  int threads;          /* per block */
  int split;            /* the split kernel, with */
  int B;                /* blocks per replica */
  int chunk;            /* E: records of series one launch may write */
  int ref_min;          /* the shortest refractory period of the cohort (steps) */
  long long rast_cap;   /* P (0: no raster) */
  long long rast_steps; /* the most raster steps one launch may cover */
  LsNet *nets;          /* [R] host copies of the networks (the conversion reads them) */
  size_t *off;          /* [R + 1] byte offsets of the replicas' state blocks */
  int *h_rows;          /* [R] series rows */
  char *h_mem;          /* [off[R]] the internal blocks, staged */
  float *h_series;      /* [R][E][F] */
  int *h_count;         /* [R] raster pairs of the last launch */
  Raster *rast;         /* [R] the raster so far */
  char *d_mem;          /* [off[R]] */
  char *d_net;          /* the networks' arrays, replica after replica */
  LsRep *d_reps;        /* [R] pointing into d_mem and d_net */
  LsConst *d_const;     /* [R] */
  float *d_series;      /* [R][E][F] */
  uint32_t *d_rast;     /* [R][P][2] */
  int *d_count;         /* [R] */
  int *d_cnt;           /* [R][2] the split kernel's spike counts, by the step's parity */
  cudaStream_t stream;
};

static void cuda_cohort_destroy(ApCohort *c) {
  if (!c) return;
  cudaFree(c->d_mem);
  cudaFree(c->d_net);
  cudaFree(c->d_reps);
  cudaFree(c->d_const);
  cudaFree(c->d_series);
  cudaFree(c->d_rast);
  cudaFree(c->d_count);
  cudaFree(c->d_cnt);
  if (c->stream) cudaStreamDestroy(c->stream);
  for (int i = 0; c->nets && i < c->R; i++) ls_net_free(&c->nets[i]);
  for (int i = 0; c->rast && i < c->R; i++) free(c->rast[i].pairs);
  free(c->nets);
  free(c->off);
  free(c->h_rows);
  free(c->h_mem);
  free(c->h_series);
  free(c->h_count);
  free(c->rast);
  free(c);
}

/* The arrays of a network the body reads, packed one after the other (16-byte aligned):
 * with h NULL only the size; else copied into h, and dn pointed at the same places in d. */
static size_t net_pack(const LsNet *n, char *h, char *d, LsNet *dn) {
  size_t N1 = (size_t)n->N + 1, K = n->n_plastic > 0 ? (size_t)n->n_plastic : 1,
         S = n->n_static > 0 ? (size_t)n->n_static : 1, at = 0, a = LS_NET_PACK_ALIGN;
#define PACK(f, count)                                                                             \
  do {                                                                                             \
    size_t bytes_ = (count) * sizeof *n->f;                                                        \
    if (h) {                                                                                       \
      memcpy(h + at, n->f, bytes_);                                                                \
      dn->f = (decltype(dn->f))(d + at);                                                           \
    }                                                                                              \
    at = (at + bytes_ + a - 1) / a * a;                                                            \
  } while (0);
  LS_NET_ARRAYS(PACK) /* the list and alignment ls_net_bytes adds up */
#undef PACK
  return at;
}

static ap_status cohort_alloc(ApCohort *c, const ApCohortSpec *spec, ApError *err) {
  const LsParams *params = (const LsParams *)spec->params;
  const char *v = spec->exec.cuda_version;
  if (v && *v && strcmp(v, "auto") && strcmp(v, "generic") && strcmp(v, "split"))
    return ap_fail(err, AP_ERR_USAGE, "cuda kernel %s: lif_stdp has auto, generic and split", v);
  c->d = ls_dims(&params[0]);
  ApLayout lay;
  if (ls_layout_init(&params[0], &lay, &c->ser))
    return ap_fail(err, AP_ERR_CONFIG, "lif_stdp: too many state fields or series");
  c->canon = (size_t)lay.n_floats;
  c->R = spec->n;
  size_t R = (size_t)c->R, F = (size_t)c->ser.width;
  int groups = (c->d.N + 3) / 4, want = (groups + 31) / 32 * 32;
  c->threads = want < MAX_THREADS ? want : MAX_THREADS;
  {
    /* split: SPLIT_PER_SM blocks per SM shared out over the replicas, each block at
     * least 8 groups (32 neurons): a thread per neuron of each step's chain of loads */
    int dev = 0, sms = 1;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    int most = groups / 8 > 1 ? groups / 8 : 1, B = SPLIT_PER_SM * sms / c->R;
    c->B = B < 1 ? 1 : B > most ? most : B;
    c->split = v && !strcmp(v, "split") ? 1 : (!v || !*v || !strcmp(v, "auto")) && c->B >= 2;
    if (c->split) { /* a thread per neuron of the block, at least 128 for the spikes' synapses */
      int per = (c->d.N + c->B - 1) / c->B, t = (per + 31) / 32 * 32;
      c->threads = t < 128 ? 128 : t < MAX_THREADS ? t : MAX_THREADS;
    }
  }
  c->chunk = ls_cuda_size(&c->d, c->R, c->ser.width, 1).chunk; /* (the raster's, below) */

  c->nets = (LsNet *)calloc(R, sizeof *c->nets);
  c->off = (size_t *)calloc(R + 1, sizeof *c->off);
  c->h_rows = (int *)malloc(R * sizeof(int));
  c->h_series = (float *)malloc(R * (size_t)c->chunk * F * sizeof(float));
  c->h_count = (int *)calloc(R, sizeof(int));
  c->rast = (Raster *)calloc(R, sizeof *c->rast);
  LsConst *h_const = (LsConst *)calloc(R, sizeof *h_const);
  LsRep *h_reps = (LsRep *)calloc(R, sizeof *h_reps);
  LsNet *d_nets = (LsNet *)calloc(R, sizeof *d_nets);
  size_t *net_off = (size_t *)calloc(R + 1, sizeof *net_off);
  char *h_net = NULL;
  ap_status st = AP_OK;
  cudaError_t rc = cudaSuccess;
  if (!c->nets || !c->off || !c->h_rows || !c->h_series || !c->h_count || !c->rast || !h_const ||
      !h_reps || !d_nets || !net_off) {
    st = ap_fail(err, AP_ERR_OSERR, "out of host memory for %d lif_stdp replicas", c->R);
    goto out;
  }
  memcpy(c->h_rows, spec->rows, R * sizeof(int));
  c->ref_min = 1 << 30;
  for (int i = 0; i < c->R; i++) {
    if (ls_net_build(&params[i], &c->nets[i])) {
      st = ap_fail(err, AP_ERR_OSERR, "out of host memory building %d lif_stdp networks", c->R);
      goto out;
    }
    ls_const_init(&h_const[i], &params[i]);
    if (h_const[i].ref_steps < c->ref_min) c->ref_min = h_const[i].ref_steps;
    c->off[i + 1] = c->off[i] + ls_rep_bytes(&c->d, c->nets[i].n_plastic);
    net_off[i + 1] = net_off[i] + net_pack(&c->nets[i], NULL, NULL, NULL);
  }
  {
    /* every size from ls_cuda_size, which the estimate adds up too; the raster buffer
     * holds every spike of a launch's raster steps, within the budget */
    LsCudaSize z = ls_cuda_size(&c->d, c->R, c->ser.width, c->ref_min);
    c->rast_steps = z.rast_steps;
    c->rast_cap = z.rast_cap;
    if (c->rast_cap > (1LL << 30)) {
      st =
          ap_fail(err, AP_ERR_CONFIG, "lif_stdp: %d neurons: too many for the CUDA raster", c->d.N);
      goto out;
    }
    size_t need = c->off[R] + net_off[R] + R * z.per_launch, free_b = 0, total_b = 0;
    if ((rc = cudaMemGetInfo(&free_b, &total_b)) != cudaSuccess) goto out;
    if (need > ap_device_budget(free_b)) {
      st = ap_fail(err, AP_ERR_OSERR,
                   "cuda: %d lif_stdp replicas of %d neurons need %.1f MiB (%.1f MiB each), "
                   "%.1f MiB are free: run fewer at once, or on the CPU",
                   c->R, c->d.N, (double)need / 1048576.0, (double)need / R / 1048576.0,
                   (double)free_b / 1048576.0);
      goto out;
    }
  }
  c->h_mem = (char *)calloc(c->off[R], 1);
  h_net = (char *)malloc(net_off[R]);
  if (!c->h_mem || !h_net) {
    st = ap_fail(err, AP_ERR_OSERR, "out of host memory for %d lif_stdp replicas", c->R);
    goto out;
  }
  rc = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_mem, c->off[R]);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_net, net_off[R]);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_reps, R * sizeof(LsRep));
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_const, R * sizeof(LsConst));
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_series, R * (size_t)c->chunk * F * sizeof(float));
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_count, R * sizeof(int));
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_cnt, 2 * R * sizeof(int));
  if (rc == cudaSuccess) rc = cudaMemsetAsync(c->d_cnt, 0, 2 * R * sizeof(int), c->stream);
  if (rc == cudaSuccess && c->rast_cap)
    rc = cudaMalloc(&c->d_rast, R * (size_t)c->rast_cap * 2 * sizeof(uint32_t));
  if (rc == cudaSuccess) /* zeros, as the CPU backend starts its blocks */
    rc = cudaMemcpyAsync(c->d_mem, c->h_mem, c->off[R], cudaMemcpyHostToDevice, c->stream);
  for (int i = 0; i < c->R && rc == cudaSuccess; i++) {
    net_pack(&c->nets[i], h_net + net_off[i], c->d_net + net_off[i], &d_nets[i]);
    ls_rep_carve(&h_reps[i], c->d_mem + c->off[i], &c->d, &c->nets[i], &d_nets[i]);
  }
  if (rc == cudaSuccess)
    rc = cudaMemcpyAsync(c->d_net, h_net, net_off[R], cudaMemcpyHostToDevice, c->stream);
  if (rc == cudaSuccess)
    rc = cudaMemcpyAsync(c->d_reps, h_reps, R * sizeof(LsRep), cudaMemcpyHostToDevice, c->stream);
  if (rc == cudaSuccess)
    rc = cudaMemcpyAsync(c->d_const, h_const, R * sizeof(LsConst), cudaMemcpyHostToDevice,
                         c->stream);
  if (rc == cudaSuccess) rc = cudaStreamSynchronize(c->stream); /* before the staging is freed */
out:
  free(h_const);
  free(h_reps);
  free(d_nets);
  free(net_off);
  free(h_net);
  if (!st) CUDA_CHECK(rc);
  return st;
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

/* A host LsRep over replica i's staged block, for ls_convert. */
static LsRep staged(const ApCohort *c, int i) {
  LsRep r;
  memset(&r, 0, sizeof r);
  ls_rep_carve(&r, c->h_mem + c->off[i], &c->d, &c->nets[i], &c->nets[i]);
  return r;
}

/* The state comes in: converted into the staged blocks (no spikes pending, the raster's
 * device count at zero), which go to the device whole. */
static ap_status cuda_state_set(ApCohort *c, const float *state, ApError *err) {
  size_t nc = c->canon;
  for (int i = 0; i < c->R; i++) {
    LsRep r = staged(c, i);
    ls_convert(&c->d, &c->nets[i], &r, (float *)state + (size_t)i * nc, LS_INTO_REP);
    *r.n_spk = 0;
    *r.n_rast = 0;
    memset(r.wsum, 0, 4 * sizeof *r.wsum);          /* (the split kernel's sums start from zero) */
    memset(r.spk, 0, (size_t)c->d.N * sizeof(int)); /* (the spike counts: ls_convert) */
  }
  CUDA_CHECK(cudaMemcpyAsync(c->d_mem, c->h_mem, c->off[c->R], cudaMemcpyHostToDevice, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return AP_OK;
}

static ap_status cuda_state_get(ApCohort *c, float *state, ApError *err) {
  size_t nc = c->canon;
  CUDA_CHECK(cudaMemcpyAsync(c->h_mem, c->d_mem, c->off[c->R], cudaMemcpyDeviceToHost, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int i = 0; i < c->R; i++) {
    LsRep r = staged(c, i);
    ls_convert(&c->d, &c->nets[i], &r, state + (size_t)i * nc, LS_INTO_CANON);
  }
  return AP_OK;
}

/* Where the launch from step s0 ends (at most s1): within `chunk` records, and within
 * the raster buffer's steps while s0 is in the raster window. */
static long long launch_end(const ApCohort *c, long long s0, long long s1) {
  long long end = (s0 / c->d.steps + c->chunk) * c->d.steps;
  if (s0 < c->d.raster_steps && s0 + c->rast_steps < end) end = s0 + c->rast_steps;
  return end < s1 ? end : s1;
}

static ap_status launch(ApCohort *c, long long s0, long long s1, ApError *err) {
  int with_raster = s0 < c->d.raster_steps;
  if (c->split) {
    uint32_t *rast = with_raster ? c->d_rast : NULL;
    int cap = with_raster ? (int)c->rast_cap : 0, grid = c->R * c->B;
    long long e_base = s0 / c->d.steps;
    CUDA_CHECK(cudaMemsetAsync(c->d_cnt, 0, 2 * (size_t)c->R * sizeof(int), c->stream));
    for (long long s = s0; s < s1; s++) {
      ls_split_neurons<<<grid, c->threads, 0, c->stream>>>(c->d_reps, c->d_const, c->d, s, c->B,
                                                           c->d_cnt, rast, cap);
      ls_split_synapses<<<grid, c->threads, 0, c->stream>>>(c->d_reps, c->d_const, c->d, s, c->B,
                                                            c->d_cnt);
      if ((s + 1) % c->d.steps == 0) {
        ls_split_sums<<<grid, c->threads, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->B);
        long long e = (s + 1) / c->d.steps - 1;
        ls_split_series<<<c->R, 32, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->ser,
                                                    c->d_series, c->chunk, (int)(e - e_base), e);
      }
    }
    if (with_raster)
      ls_split_rast<<<(c->R + 127) / 128, 128, 0, c->stream>>>(c->d_reps, c->R, c->d_count);
    CUDA_CHECK(cudaGetLastError());
    return AP_OK;
  }
  ls_steps<<<c->R, c->threads, 0, c->stream>>>(
      c->d_reps, c->d_const, c->d, c->ser, s0, s1, c->d_series, c->chunk,
      with_raster ? c->d_rast : NULL, with_raster ? (int)c->rast_cap : 0, c->d_count);
  CUDA_CHECK(cudaGetLastError());
  return AP_OK;
}

static int pair_order(const void *a, const void *b) {
  const uint32_t *x = (const uint32_t *)a, *y = (const uint32_t *)b;
  if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

static int raster_grow(Raster *q, size_t n) {
  if (n <= q->cap) return 0;
  size_t cap = q->cap ? 2 * q->cap : 65536;
  while (cap < n) cap *= 2;
  uint32_t *p = (uint32_t *)realloc(q->pairs, cap * 2 * sizeof *p);
  if (!p) return -1;
  q->pairs = p;
  q->cap = cap;
  return 0;
}

/* After the launch of steps s0 .. s1-1: the records it finished go into the run's series,
 * and the spikes it appended to the raster, in the CPU's order, onto each replica's. */
static ap_status collect(ApCohort *c, long long s0, long long s1, const ApSeriesBuf *out,
                         ApError *err) {
  size_t F = (size_t)c->ser.width, row = (size_t)c->chunk * F;
  long long e_base = s0 / c->d.steps, e_end = s1 / c->d.steps; /* finished: e_base .. e_end-1 */
  if (e_end > e_base)
    CUDA_CHECK(cudaMemcpyAsync(c->h_series, c->d_series, (size_t)c->R * row * sizeof(float),
                               cudaMemcpyDeviceToHost, c->stream));
  if (s0 < c->d.raster_steps)
    CUDA_CHECK(cudaMemcpyAsync(c->h_count, c->d_count, (size_t)c->R * sizeof(int),
                               cudaMemcpyDeviceToHost, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (e_end > e_base)
    for (int i = 0; i < c->R; i++)
      memcpy(out->base + ((size_t)c->h_rows[i] * (size_t)out->n_records + (size_t)e_base) * F,
             c->h_series + (size_t)i * row, (size_t)(e_end - e_base) * F * sizeof(float));
  if (s0 >= c->d.raster_steps) return AP_OK;
  for (int i = 0; i < c->R; i++) {
    size_t n = (size_t)c->h_count[i];
    if ((long long)n > c->rast_cap)
      return ap_fail(err, AP_ERR_SOFTWARE,
                     "lif_stdp: replica %d appended %zu spikes to a raster buffer of %lld", i, n,
                     c->rast_cap);
    if (raster_grow(&c->rast[i], c->rast[i].n + n))
      return ap_fail(err, AP_ERR_OSERR, "out of memory for the spike raster");
    if (n)
      CUDA_CHECK(cudaMemcpyAsync(c->rast[i].pairs + 2 * c->rast[i].n,
                                 c->d_rast + 2 * (size_t)i * (size_t)c->rast_cap,
                                 n * 2 * sizeof(uint32_t), cudaMemcpyDeviceToHost, c->stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int i = 0; i < c->R; i++) {
    size_t n = (size_t)c->h_count[i];
    qsort(c->rast[i].pairs + 2 * c->rast[i].n, n, 2 * sizeof(uint32_t), pair_order);
    c->rast[i].n += n;
  }
  return AP_OK;
}

/* busy stays as it is: the cohorts' kernels overlap on their streams, and no per-cohort
 * time is measured. Each round launches every unfinished cohort's next stretch, then
 * collects them. */
/* Units are steps (ls_model; 0 where records are not cut): from and to are steps. */
static ap_status cuda_run(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                          const ApSeriesBuf *out, double *busy, ApError *err) {
  (void)busy;
  long long *at = (long long *)malloc((size_t)(n_cohorts ? n_cohorts : 1) * 2 * sizeof *at);
  if (!at) return ap_fail(err, AP_ERR_OSERR, "out of memory running lif_stdp");
  long long *end = at + n_cohorts;
  for (int i = 0; i < n_cohorts; i++) at[i] = ap_pos_index(from, cohorts[i]->d.steps);
  ap_status st = AP_OK;
  for (int more = 1; more && !st;) {
    more = 0;
    for (int i = 0; i < n_cohorts && !st; i++) {
      long long s1 = ap_pos_index(to, cohorts[i]->d.steps);
      end[i] = at[i] < s1 ? launch_end(cohorts[i], at[i], s1) : at[i];
      if (end[i] > at[i]) st = launch(cohorts[i], at[i], end[i], err);
    }
    for (int i = 0; i < n_cohorts && !st; i++) {
      if (end[i] == at[i]) continue;
      st = collect(cohorts[i], at[i], end[i], out, err);
      at[i] = end[i];
      more = 1;
    }
  }
  free(at);
  return st;
}

static void cuda_describe_cohort(const ApCohort *c, char *buf, size_t n) {
  int k = c->split ? snprintf(buf, n,
                              "kernel split, %d blocks of %d threads (%d per replica of %d "
                              "neurons), two launches per step, %d records per stretch",
                              c->R * c->B, c->threads, c->B, c->d.N, c->chunk)
                   : snprintf(buf, n,
                              "kernel generic, %d block%s of %d threads (one per replica of %d "
                              "neurons), %d records per launch",
                              c->R, c->R == 1 ? "" : "s", c->threads, c->d.N, c->chunk);
  if (c->rast_cap && k > 0 && (size_t)k < n)
    snprintf(buf + k, n - (size_t)k, ", in the raster window at most %lld steps per launch",
             c->rast_steps);
}

static ap_status cuda_events_get(ApCohort *c, int i, const uint32_t **pairs, size_t *n,
                                 ApError *err) {
  (void)err;
  *pairs = c->rast[i].pairs;
  *n = c->rast[i].n;
  return AP_OK;
}

static ap_status cuda_events_set(ApCohort *c, int i, const uint32_t *pairs, size_t n,
                                 ApError *err) {
  Raster *q = &c->rast[i];
  if (raster_grow(q, n)) return ap_fail(err, AP_ERR_OSERR, "out of memory for the spike raster");
  if (n) memcpy(q->pairs, pairs, n * 2 * sizeof *pairs);
  q->n = n;
  return AP_OK;
}

static const ApModelImpl cuda_impl = {
    .versions = "generic|split",
    .cohort_create = cuda_cohort_create,
    .cohort_destroy = cuda_cohort_destroy,
    .state_set = cuda_state_set,
    .state_get = cuda_state_get,
    .run = cuda_run,
    .describe = cuda_describe_cohort,
    .events_get = cuda_events_get,
    .events_set = cuda_events_set,
};

extern "C" const ApModelImpl *ls_cuda_impl(void) { return &cuda_impl; }
