/* The MSTDP network on the CUDA backend: one thread block per replica is the team that
 * runs ms_body.h (the CPU backend's very body), through records e0 .. e1-1 in one launch
 * (a persistent kernel: no relaunch between iterations, the replica's weights stay in
 * L2 where they fit). Every thread of a block takes the same branches, so the body's
 * barriers are __syncthreads().
 *
 * Dimension letters: R replicas of the cohort, E records of a launch (at most `chunk`),
 * F series floats per record, Q floats of one replica's internal block (ms_rep.h), S
 * training samples.
 *
 * Layout on the device: replica-major, each replica's block exactly as the CPU backend
 * lays it out (ms_rep.h: rows padded to 16 floats), so the host converts canonical <->
 * internal with the CPU's code and copies blocks as they are.
 *
 * Kernel versions (STYLE.md: keep the plain port, add faster ones beside it). Both give
 * the CPU backend's numbers bit for bit, so the choice changes speed only:
 *   generic  each thread computes whole rows (ms_row, the row loop strided by the block):
 *            the CPU's sums in the CPU's order by construction. A warp's loads touch 32
 *            rows at once.
 *   rows16   the row pass by groups of 16 threads per row (rows16_pass): lane q keeps
 *            partial sum q of ms_row, so it reads 16 consecutive weights with its group
 *            (coalesced), and shuffles add the partials in ms_tree16's order. The rest of
 *            the body runs as in generic. Blocks of 16 x G threads (the launch shape is
 *            what tells the body's row pass which version runs).
 *   span     one replica's rows spread over the whole GPU: the body's passes become
 *            launches (per iteration one launch of the row pass with its unit steps;
 *            per presentation a start launch: image and targets; per read-out image or
 *            generated sample its start, its two looks and its end, ms_read_unit's
 *            steps), each replica's rows taken by rows16's 16-lane groups across blocks
 *            of all SMs, replicas side by side on the grid's second axis (grid B x R).
 *            The measures' row sums run over the GPU too; their O(N) sums and a
 *            record's close run on one block per replica. Needs every
 *            replica of the cohort on the same schedule (presentations, cycles,
 *            iterations, test_cycles). Why launches and not one persistent kernel with a grid
 * barrier: the CUDA simulator (shared tools, gpusim) runs a grid's blocks one after the other in
 * functional mode (cuda-sim.cc: "one CTA at the time"), so a hand-rolled barrier on a global
 * counter would hang there and the parity cases could not run; it has no cooperative launch and no
 * CUDA graphs either. A launch is a few microseconds against a row pass of tens at 2048 hidden.
 * "auto" takes span for fewer replicas than the device has SMs (one replica's rows
 * fill the GPU; modelled at 256 hidden, one replica: 9.6x rows16 per iteration,
 * benchmarks/results/gpu-model-mstdp-2026-12-07.md), rows16 for more (a block per
 * replica then fills every SM without launches; not modelled); generic stays as the
 * plain port.
 *
 * Where the cohort's blocks fit in the device's persisting L2 (an H100 sets aside up to
 * ~37 MB of its 50 MB, one 2048-hidden replica is 30 MB), an access-policy window on the
 * cohort's stream keeps them there, so a row pass reads L2 instead of HBM. The CUDA
 * simulator has no cudaStreamSetAttribute (and models no such window): there the call is
 * skipped (weak symbol) and the describe line says so.
 *
 * A cohort that does not fit in device memory is refused with the size it needs. Every
 * CUDA call and launch is checked, and every copy runs on the cohort's stream. */
#include <cuda_runtime.h>
/* absent from the CUDA simulator's runtime: a weak reference, tested before each use */
#pragma weak cudaStreamSetAttribute
#define MS_FN static __device__ __forceinline__
#define MS_SYNC() __syncthreads()
#define MS_SIMD
struct MsTeam;
struct MsBody;
static __device__ __forceinline__ int rows16_pass(struct MsTeam t, const struct MsBody *b,
                                                  int terms);
#define MS_ROW_PASS_VERSION rows16_pass
#include "ms_body.h"

#include "../backend.h"
#include "../backend_cuda.cuh"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 512                  /* a block: a team of up to this many threads */
#define MAX_CHUNK 256                    /* records per launch */
#define SERIES_BUDGET ((size_t)64 << 20) /* bytes of device series buffer a cohort may use */

/* ---- kernels: indexing and launch only; the model is ms_body.h -------------------- */

#define ROWS16_UNROLL 8 /* 16-float steps of a row whose loads are in flight together */

/* Where a row pass reads the rates and the pending update's column vectors, and where a
 * fused unit step (span) writes them: the MsRep's own, or the second set in its alt. */
typedef struct Vecs {
  float *rho, *cx, *cx2;
} Vecs;

/* rows16's row pass over rows g, g + G, g + 2G, ... of replica r, by the 16-lane group g
 * (of G): lane q (0..15) takes the row's elements q, q + 16, ..., which in ms_row go to
 * partial sum q, in the same order; shuffles add the partials in ms_tree16's order. Every
 * group of a warp makes the same number of trips (whole warps shuffle): G is even. The
 * rates and column vectors come from in. unit (span): lane 0 then steps the row's unit
 * (ms_unit_at) with the iteration it, units [lo, hi) clamped in a clamped phase, its new
 * rate and coefficients into out. */
static __device__ __forceinline__ void rows16_rows(const MsBody *b, int terms, int lane, int g,
                                                   int G, Vecs in, int unit, MsIter it, int lo,
                                                   int hi, Vecs out) {
  const MsRep *r = b->r;
  const MsDims *d = &b->d;
  float *wh = r->wh, *wv = r->wv, *dot = r->dot;
  const float *ca = r->ca, *ca2 = r->ca2, *cx = in.cx, *cx2 = in.cx2, *rho = in.rho;
  int n_rows = d->H + d->V;
  for (int i0 = 0; i0 < n_rows; i0 += G) {
    int i = i0 + g, u = -1;
    float acc = 0.0f;
    if (i < n_rows) {
      int hidden = i < d->H, n = hidden ? d->Np : d->Hp, self = hidden ? i : -1;
      float *w = hidden ? wh + (size_t)i * d->Np : wv + (size_t)(i - d->H) * d->Hp;
      u = hidden ? i : d->Hp + i - d->H;
      float a = ca[u], a2 = ca2[u];
      for (int j0 = lane; j0 < n; j0 += ROWS16_UNROLL * MS_PAD) {
        /* every load of the step first (in flight together), then the sums in order */
        float wb[ROWS16_UNROLL], rb[ROWS16_UNROLL], xb[ROWS16_UNROLL], x2b[ROWS16_UNROLL];
#pragma unroll
        for (int q = 0; q < ROWS16_UNROLL; q++) {
          int j = j0 + q * MS_PAD, ok = j < n;
          wb[q] = ok ? w[j] : 0.0f;
          rb[q] = ok ? rho[j] : 0.0f;
          xb[q] = ok && terms ? cx[j] : 0.0f;
          x2b[q] = ok && terms == 2 ? cx2[j] : 0.0f;
        }
#pragma unroll
        for (int q = 0; q < ROWS16_UNROLL; q++) {
          int j = j0 + q * MS_PAD;
          if (j < n) {
            float wj = wb[q];
            if (terms) {
              wj = fmaf(a, xb[q], wj);
              if (terms == 2) wj = fmaf(a2, x2b[q], wj);
              if (j == self) wj = 0.0f;
              w[j] = wj;
            }
            acc = fmaf(wj, rb[q], acc);
          }
        }
      }
    }
    for (int h = MS_PAD / 2; h > 0; h >>= 1) /* ms_tree16: acc[k] = acc[k] + acc[k + h] */
      acc = acc + __shfl_down_sync(0xffffffffu, acc, h, MS_PAD);
    if (lane == 0 && u >= 0) {
      dot[u] = acc;
      if (unit) {
        ms_unit_at(b, u, in.rho[u], acc, it.clamped, u >= lo && u < hi, it.learn, out.rho, out.cx,
                   out.cx2);
      }
    }
  }
}

/* The MsRep's own vectors, and the second set (alt's three rows of Np). */
static __device__ __forceinline__ Vecs vecs_own(const MsRep *r) {
  Vecs v = {r->rho, r->cx, r->cx2};
  return v;
}
static __device__ __forceinline__ Vecs vecs_alt(const MsRep *r, const MsDims *d) {
  Vecs v = {r->alt, r->alt + d->Np, r->alt + 2 * (size_t)d->Np};
  return v;
}

/* The row pass of rows16, or 0 (not run) in a generic launch (blocks of 1-D, at least a
 * warp wide): group threadIdx.y of the blockDim.y takes every blockDim.y-th row. */
static __device__ __forceinline__ int rows16_pass(struct MsTeam t, const struct MsBody *b,
                                                  int terms) {
  (void)t;
  if (blockDim.x != MS_PAD) return 0;
  MsIter none = {0, 0, 0};
  rows16_rows(b, terms, (int)threadIdx.x, (int)threadIdx.y, (int)blockDim.y, vecs_own(b->r), 0,
              none, 0, 0, vecs_own(b->r));
  return 1;
}

/* Block r runs replica r from unit u0 of record e0 to unit u1 of record e1 (u1 = 0: to
 * e1's start); record e's series go to slot e - e0. Its MsRep and MsConst are read into
 * shared memory once; what the body changes in the MsRep (the permutation's pass, frozen)
 * goes back at the end. rest: only what follows the presentations (span: they and the
 * measures' row sums ran as launches). */
static __global__ void __launch_bounds__(MAX_THREADS)
    records(MsRep *reps, const MsConst *cst, MsDims d, MsSeries ser, ApData data, int e0,
            long long u0, int e1, long long u1, float *series, int chunk, int rest) {
  __shared__ MsRep rep;
  __shared__ MsConst k;
  int r = blockIdx.x;
  MsTeam t = {(int)(threadIdx.y * blockDim.x + threadIdx.x), (int)(blockDim.x * blockDim.y)};
  if (t.tid == 0) {
    rep = reps[r];
    k = cst[r];
  }
  __syncthreads();
  MsBody b = {.r = &rep, .k = &k, .d = d, .data = &data, .ser = &ser};
  float *rows = series + (size_t)r * chunk * ser.width; /* [E][F] */
  for (int e = e0; e < e1 || (e == e1 && u1 > 0); e++) {
    float *rec = rows + (size_t)(e - e0) * ser.width;
    long long a = e == e0 ? u0 : 0, z = e == e1 ? u1 : k.units;
    if (rest)
      ms_record_rest(t, &b, e, a, z, rec, 1);
    else
      ms_record(t, &b, e, a, z, rec);
  }
  __syncthreads();
  if (t.tid == 0) {
    reps[r].perm_pass = rep.perm_pass;
    reps[r].frozen = rep.frozen;
  }
}

/* ---- span: the passes as launches over the whole GPU ---------------------------------- */

#define SPAN_G 8       /* 16-lane groups (rows at a time) per block of the row launches */
#define SPAN_T 256     /* threads per block of the other span launches */
#define SPAN_PER_SM 16 /* row blocks per SM the cohort aims at (128 threads each) */

/* The second set of vectors (alt) made a copy of the first, pads (zeros) included: a
 * unit's first iteration reads the own set and writes alt only for the real units. */
static __device__ __forceinline__ void span_alt_copy(MsTeam t, const MsRep *r, const MsDims *d) {
  Vecs a = vecs_own(r), k = vecs_alt(r, d);
  for (int u = t.tid; u < d->Np; u += t.nth) {
    k.rho[u] = a.rho[u];
    k.cx[u] = a.cx[u];
    k.cx2[u] = a.cx2[u];
  }
}

/* Presentation n (counted from the run's start) begins on every replica (block r): its
 * image (ms_image_of: the permutation drawn at a pass's start) and clamp targets, and the
 * second set of vectors (alt) made a copy of the first, pads (zeros) included. */
static __global__ void __launch_bounds__(SPAN_T)
    span_start(MsRep *reps, const MsConst *cst, MsDims d, ApData data, long long n) {
  __shared__ MsRep rep;
  int r = blockIdx.x;
  MsTeam t = {(int)threadIdx.x, (int)blockDim.x};
  if (t.tid == 0) rep = reps[r];
  __syncthreads();
  if (rep.frozen) return;
  MsBody b = {.r = &rep, .k = &cst[r], .d = d, .data = &data};
  span_alt_copy(t, &rep, &d);
  int img = ms_image_of(t, &b, n);
  ms_set_targets(t, &b, data.x_train + (size_t)img * d.P, data.y_train[img]);
  if (t.tid == 0) reps[r].perm_pass = rep.perm_pass;
}

/* Iteration j of a unit of record part `part` (MS_PART_TRAIN: a presentation's,
 * ms_present_iter; else a read-out's, ms_read_iter) on replica blockIdx.y, its row pass
 * and unit pass in one launch: blocks of 16 x SPAN_G threads, group g of the gridDim.x *
 * SPAN_G takes rows g, g + G, ... and steps their units (rows16_rows). The unit pass
 * writes the rates and column vectors the row pass reads, so the iterations alternate
 * between the two sets: even j reads the MsRep's own and writes alt's, odd j the other
 * way; a unit has an even count, so it ends in the MsRep's own. j < 0: the row pass of a
 * record's measures (no update pending, no unit step). */
static __global__ void __launch_bounds__(MS_PAD *SPAN_G)
    span_iteration(MsRep *reps, const MsConst *cst, MsDims d, int part, int j) {
  MsRep *r = &reps[blockIdx.y];
  if (r->frozen) return;
  MsBody b = {.r = r, .k = &cst[blockIdx.y], .d = d};
  MsIter it = {0, 0, 0};
  int lo = 0, hi = 0;
  if (j >= 0 && part == MS_PART_TRAIN) {
    it = ms_present_iter(b.k, j);
    lo = ms_present_lo(&d, it), hi = ms_present_hi(&d, it);
  } else if (j >= 0) {
    it = ms_read_iter(b.k, j);
    lo = ms_read_lo(&d, part), hi = ms_read_hi(&d, part);
  }
  Vecs own = vecs_own(r), alt = vecs_alt(r, &d);
  int odd = j >= 0 && j % 2;
  rows16_rows(&b, it.terms, (int)threadIdx.x, (int)(blockIdx.x * blockDim.y + threadIdx.y),
              (int)(gridDim.x * blockDim.y), odd ? alt : own, j >= 0, it, lo, hi, odd ? own : alt);
}

/* A block per replica (blockIdx.x) over a read-out unit i of part `part` of record e:
 * step 0 its start (ms_read_begin, then span_alt_copy), 1 the look after its last clamped
 * phase, 2 after its last free phase (ms_read_look), 3 its end (ms_read_end). */
static __global__ void __launch_bounds__(SPAN_T)
    span_read(MsRep *reps, const MsConst *cst, MsDims d, ApData data, MsSeries ser, int e, int part,
              int i, int step) {
  __shared__ MsRep rep;
  int r = blockIdx.x;
  MsTeam t = {(int)threadIdx.x, (int)blockDim.x};
  if (t.tid == 0) rep = reps[r];
  __syncthreads();
  if (rep.frozen) return;
  MsBody b = {.r = &rep, .k = &cst[r], .d = d, .data = &data, .ser = &ser};
  if (step == 0) {
    ms_read_begin(t, &b, e, part, i);
    span_alt_copy(t, &rep, &d);
  } else if (step < 3)
    ms_read_look(t, &b, part, i, step == 1);
  else
    ms_read_end(t, &b, part, i, (int)ms_part_len(b.k, part));
}

/* The row sums of a record's measures (ms_measure_rows) on replica blockIdx.y, a thread
 * per row across the grid's row. */
static __global__ void __launch_bounds__(SPAN_T)
    span_measure_rows(MsRep *reps, const MsConst *cst, MsDims d) {
  MsRep *r = &reps[blockIdx.y];
  if (r->frozen) return;
  MsBody b = {.r = r, .k = &cst[blockIdx.y], .d = d};
  MsTeam t = {(int)(blockIdx.x * blockDim.x + threadIdx.x), (int)(gridDim.x * blockDim.x)};
  ms_measure_rows(t, &b);
}

enum { KERNEL_GENERIC, KERNEL_ROWS16, KERNEL_SPAN };
static const char *const kernel_names[] = {"generic", "rows16", "span"};

/* ---- cohorts ------------------------------------------------------------------------- */

struct ApCohort {
  MsDims d;
  MsSeries ser;
  ApData data; /* device pointers */
  int has_data;
  int R;
  int threads;         /* per block */
  int chunk;           /* records per launch */
  int n_perm;          /* S (at least 1) */
  size_t q;            /* Q */
  int kernel;          /* KERNEL_* */
  int sms;             /* the device's SMs */
  int span_rows;       /* span: row blocks per replica (grid span_rows x R) */
  int span_units;      /* span: blocks per replica of a thread per unit */
  MsConst k0;          /* the first replica's constants: the cohort's schedule (span needs every
                          replica on it, pick_kernel; records' units follow from fixed keys) */
  size_t l2_window;    /* bytes of the access-policy window (0: none) */
  const char *l2_note; /* why none */
  int *h_rows;         /* [R] series rows */
  float *h_mem;        /* [R][Q] the internal blocks, staged */
  MsRep *h_reps;       /* [R] pointing into d_mem and d_perm */
  float *h_series;     /* [R][chunk][F] */
  float *d_mem;        /* [R][Q] */
  uint32_t *d_perm;    /* [R][S] */
  MsRep *d_reps;       /* [R] */
  MsConst *d_const;    /* [R] */
  float *d_series;     /* [R][chunk][F] */
  cudaStream_t stream;
};

static void cuda_cohort_destroy(ApCohort *c) {
  if (!c) return;
  cudaFree(c->d_mem);
  cudaFree(c->d_perm);
  cudaFree(c->d_reps);
  cudaFree(c->d_const);
  cudaFree(c->d_series);
  if (c->stream) cudaStreamDestroy(c->stream);
  if (c->has_data) ap_cuda_data_release();
  free(c->h_rows);
  free(c->h_mem);
  free(c->h_reps);
  free(c->h_series);
  free(c);
}

/* The version: span needs every replica on one schedule (its launches are the cohort's);
 * auto takes it for fewer replicas than SMs, where one replica's rows are to fill the
 * device, else rows16 (module comment). */
static ap_status pick_kernel(ApCohort *c, const char *v, const MsConst *k, ApError *err) {
  int same = 1;
  for (int i = 1; i < c->R; i++)
    same &= k[i].presentations == k[0].presentations && k[i].cycles == k[0].cycles &&
            k[i].iterations == k[0].iterations && k[i].test_cycles == k[0].test_cycles;
  if (!v || !*v || !strcmp(v, "auto"))
    c->kernel = same && c->R < c->sms ? KERNEL_SPAN : KERNEL_ROWS16;
  else if (!strcmp(v, "generic"))
    c->kernel = KERNEL_GENERIC;
  else if (!strcmp(v, "rows16"))
    c->kernel = KERNEL_ROWS16;
  else if (!strcmp(v, "span")) {
    if (!same)
      return ap_fail(err, AP_ERR_USAGE,
                     "cuda kernel span: every replica of a run needs the same presentations, "
                     "cycles, iterations and test_cycles (take auto or rows16)");
    c->kernel = KERNEL_SPAN;
  } else
    return ap_fail(err, AP_ERR_USAGE, "cuda kernel %s: mstdp has auto, generic, rows16 and span",
                   v);
  return AP_OK;
}

/* The access-policy window: the cohort's blocks (weights first) persisting in L2 where
 * the device can set that much aside; else none, and why. */
static void pin_l2(ApCohort *c) {
  size_t bytes = (size_t)c->R * c->q * sizeof(float);
  int dev = 0, max_persist = 0, max_window = 0;
  c->l2_window = 0;
  if (!cudaStreamSetAttribute) {
    c->l2_note = "no cudaStreamSetAttribute in this CUDA runtime";
    return;
  }
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&max_persist, cudaDevAttrMaxPersistingL2CacheSize, dev) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&max_window, cudaDevAttrMaxAccessPolicyWindowSize, dev) !=
          cudaSuccess ||
      max_persist <= 0 || max_window <= 0) {
    cudaGetLastError();
    c->l2_note = "the device has no persisting L2";
    return;
  }
  if (bytes > (size_t)max_persist || bytes > (size_t)max_window) {
    c->l2_note = "the cohort is larger than the persisting L2";
    return;
  }
  cudaStreamAttrValue a;
  memset(&a, 0, sizeof a);
  a.accessPolicyWindow.base_ptr = c->d_mem;
  a.accessPolicyWindow.num_bytes = bytes;
  a.accessPolicyWindow.hitRatio = 1.0f;
  a.accessPolicyWindow.hitProp = cudaAccessPropertyPersisting;
  a.accessPolicyWindow.missProp = cudaAccessPropertyStreaming;
  if (cudaDeviceSetLimit(cudaLimitPersistingL2CacheSize, bytes) != cudaSuccess ||
      cudaStreamSetAttribute(c->stream, cudaStreamAttributeAccessPolicyWindow, &a) != cudaSuccess) {
    cudaGetLastError();
    c->l2_note = "the device refused the window";
    return;
  }
  c->l2_window = bytes;
}

static ap_status cohort_alloc(ApCohort *c, const ApCohortSpec *spec, ApError *err) {
  const MsParams *params = (const MsParams *)spec->params;
  const ApData *data = spec->data;
  c->d = ms_dims(&params[0]);
  ApLayout lay;
  if (ms_layout_init(&params[0], &lay, &c->ser))
    return ap_fail(err, AP_ERR_CONFIG, "mstdp: too many state fields or series");
  c->R = spec->n;
  c->q = ms_rep_floats(&c->d);
  c->n_perm = data->n_train > 0 ? data->n_train : 1;
  size_t R = (size_t)c->R;
  /* every array's size comes from ms_cuda_size, which the estimate adds up too */
  MsCudaSize z = ms_cuda_size(&c->d, c->R, c->ser.width, data->n_train);
  c->chunk = z.chunk;

  size_t per = z.d_per_replica;
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (per * R > ap_device_budget(free_b))
    return ap_fail(err, AP_ERR_OSERR,
                   "cuda: %d mstdp replicas of %d hidden units need %.1f MiB (%.1f MiB each), "
                   "%.1f MiB are free: run fewer at once, or on the CPU",
                   c->R, c->d.H, (double)(per * R) / 1048576.0, (double)per / 1048576.0,
                   (double)free_b / 1048576.0);

  c->h_rows = (int *)malloc(R * z.h_rows);
  c->h_mem = (float *)calloc(R, z.h_mem);
  c->h_reps = (MsRep *)calloc(R, z.h_reps);
  c->h_series = (float *)malloc(R * z.h_series);
  MsConst *h_const = (MsConst *)malloc(R * z.h_const); /* freed once uploaded */
  if (!c->h_rows || !c->h_mem || !c->h_reps || !c->h_series || !h_const) {
    free(h_const);
    return ap_fail(err, AP_ERR_OSERR, "out of host memory for %d mstdp replicas", c->R);
  }
  memcpy(c->h_rows, spec->rows, R * sizeof(int));
  for (int i = 0; i < c->R; i++) ms_const_init(&h_const[i], &params[i], data);
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&c->sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
      c->sms < 1)
    c->sms = 1;
  ap_status st = pick_kernel(c, spec->exec.cuda_version, h_const, err);
  if (st) {
    free(h_const);
    return st;
  }
  /* the block kernel's team: generic 1-D, rows16 and span (its records' ends) 16 x an even
   * count */
  int units = c->d.H + c->d.V, r16 = c->kernel != KERNEL_GENERIC, whole = r16 ? 2 : 32;
  int want = (units + whole - 1) / whole * whole * (r16 ? MS_PAD : 1);
  c->threads = want < MAX_THREADS ? want : MAX_THREADS;
  c->k0 = h_const[0];
  /* span: one row per 16-lane group where the device has room, else rows shared */
  int groups = (units + SPAN_G - 1) / SPAN_G, room = c->sms * SPAN_PER_SM / c->R;
  c->span_rows = groups < room ? groups : room > 0 ? room : 1;
  c->span_units = (units + SPAN_T - 1) / SPAN_T;

  cudaError_t rc = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_mem, R * z.d_mem);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_perm, R * z.d_perm);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_reps, R * z.d_reps);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_const, R * z.d_const);
  if (rc == cudaSuccess) rc = cudaMalloc(&c->d_series, R * z.d_series);
  if (rc == cudaSuccess)
    rc = cudaMemcpyAsync(c->d_const, h_const, R * sizeof(MsConst), cudaMemcpyHostToDevice,
                         c->stream);
  if (rc == cudaSuccess) rc = cudaStreamSynchronize(c->stream);
  free(h_const);
  CUDA_CHECK(rc);
  for (int i = 0; i < c->R; i++) {
    MsRep *r = &c->h_reps[i];
    ms_rep_carve(r, c->d_mem + (size_t)i * c->q, &c->d);
    r->perm = c->d_perm + (size_t)i * c->n_perm;
    r->perm_pass = -1;
  }
  CUDA_CHECK(
      cudaMemcpyAsync(c->d_reps, c->h_reps, R * sizeof(MsRep), cudaMemcpyHostToDevice, c->stream));
  if ((st = ap_cuda_data_acquire(data, c->stream, &c->data, err))) return st;
  c->has_data = 1;
  pin_l2(c);
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

/* A host MsRep over replica i's staged block, for ms_convert. */
static MsRep staged(const ApCohort *c, int i) {
  MsRep r;
  memset(&r, 0, sizeof r);
  ms_rep_carve(&r, c->h_mem + (size_t)i * c->q, &c->d);
  return r;
}

/* The state comes in: converted into the staged blocks, which go to the device whole,
 * with each replica's frozen flag; the training order is drawn afresh. */
static ap_status cuda_state_set(ApCohort *c, const float *state, ApError *err) {
  size_t nc = ms_canon_floats(&c->d), R = (size_t)c->R;
  for (int i = 0; i < c->R; i++) {
    MsRep r = staged(c, i);
    ms_convert(&c->d, &r, (float *)state + (size_t)i * nc, MS_INTO_REP);
    c->h_reps[i].perm_pass = -1;
    c->h_reps[i].frozen = r.frozen;
  }
  CUDA_CHECK(cudaMemcpyAsync(c->d_mem, c->h_mem, R * c->q * sizeof(float), cudaMemcpyHostToDevice,
                             c->stream));
  CUDA_CHECK(
      cudaMemcpyAsync(c->d_reps, c->h_reps, R * sizeof(MsRep), cudaMemcpyHostToDevice, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return AP_OK;
}

static ap_status cuda_state_get(ApCohort *c, float *state, ApError *err) {
  size_t nc = ms_canon_floats(&c->d), R = (size_t)c->R;
  CUDA_CHECK(cudaMemcpyAsync(c->h_mem, c->d_mem, R * c->q * sizeof(float), cudaMemcpyDeviceToHost,
                             c->stream));
  CUDA_CHECK(
      cudaMemcpyAsync(c->h_reps, c->d_reps, R * sizeof(MsRep), cudaMemcpyDeviceToHost, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int i = 0; i < c->R; i++) {
    MsRep r = staged(c, i);
    r.frozen = c->h_reps[i].frozen;
    ms_convert(&c->d, &r, state + (size_t)i * nc, MS_INTO_CANON);
  }
  return AP_OK;
}

/* span: presentations p0 .. p1-1 of record e, pass by pass. (A launch of the block kernel
 * is whole records; these launches may stop at any presentation.) */
static ap_status span_presentations(ApCohort *c, int e, int p0, int p1, ApError *err) {
  dim3 rows(c->span_rows, c->R), group(MS_PAD, SPAN_G);
  for (int p = p0; p < p1; p++) {
    span_start<<<c->R, SPAN_T, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->data,
                                               (long long)e * c->k0.presentations + p);
    CUDA_CHECK(cudaGetLastError());
    for (int j = 0, n = ms_present_iters(&c->k0); j < n; j++) {
      span_iteration<<<rows, group, 0, c->stream>>>(c->d_reps, c->d_const, c->d, MS_PART_TRAIN, j);
      CUDA_CHECK(cudaGetLastError());
    }
  }
  return AP_OK;
}

/* span: unit u (at or after the presentations) of record e, a read-out's image or a
 * generated sample, pass by pass: its start, its iterations over the GPU, the looks after
 * its last clamped and its last free phase, its end (ms_read_unit's steps). */
static ap_status span_read_unit(ApCohort *c, int e, long long u, ApError *err) {
  int part = MS_PART_TEST;
  while (part + 1 < MS_PARTS && u >= ms_part_start(&c->k0, part + 1)) part++;
  if (!ms_part_runs(&c->k0, part, e)) return AP_OK;
  int i = (int)(u - ms_part_start(&c->k0, part)), n = ms_read_iters(&c->k0);
  dim3 rows(c->span_rows, c->R), group(MS_PAD, SPAN_G);
  for (int step = 0, j = 0; step < 4; step++) {
    span_read<<<c->R, SPAN_T, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->data, c->ser, e, part,
                                              i, step);
    CUDA_CHECK(cudaGetLastError());
    /* after the start, to the last clamped phase's end; after the first look, to the end */
    int to = step == 0 ? n - c->k0.iterations : step == 1 ? n : j;
    for (; j < to; j++) {
      span_iteration<<<rows, group, 0, c->stream>>>(c->d_reps, c->d_const, c->d, part, j);
      CUDA_CHECK(cudaGetLastError());
    }
  }
  return AP_OK;
}

/* span: what follows the presentations in units u0 .. u1-1 of record e (series slot
 * `slot` of each replica's chunk): where the call ends the training, the row pass and the
 * measures' row sums over the GPU and the measures on a block per replica; the read-outs'
 * units (span_read_unit); where the call ends the record, its close on a block per
 * replica (ms_record_rest). */
static ap_status span_rest(ApCohort *c, int e, long long u0, long long u1, int slot, dim3 block,
                           ApError *err) {
  dim3 rows(c->span_rows, c->R), group(MS_PAD, SPAN_G), units(c->span_units, c->R);
  const long long P = c->k0.presentations, U = c->k0.units;
  float *series = c->d_series + (size_t)slot * c->ser.width;
  if (u0 < P) {
    span_iteration<<<rows, group, 0, c->stream>>>(c->d_reps, c->d_const, c->d, MS_PART_TRAIN, -1);
    CUDA_CHECK(cudaGetLastError());
    span_measure_rows<<<units, SPAN_T, 0, c->stream>>>(c->d_reps, c->d_const, c->d);
    CUDA_CHECK(cudaGetLastError());
    records<<<c->R, block, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->ser, c->data, e, u0, e,
                                           P, series, c->chunk, 1);
    CUDA_CHECK(cudaGetLastError());
  }
  for (long long u = u0 > P ? u0 : P; u < u1; u++) {
    ap_status st = span_read_unit(c, e, u, err);
    if (st) return st;
  }
  if (u1 == U && U > P) { /* the close alone: ms_record_rest from the record's last unit */
    records<<<c->R, block, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->ser, c->data, e, U,
                                           e + 1, 0, series, c->chunk, 1);
    CUDA_CHECK(cudaGetLastError());
  }
  return AP_OK;
}

/* Launches every replica from `from` to `to` (units, ms_body.h's), touching at most chunk
 * records. */
static ap_status launch(ApCohort *c, ApPos from, ApPos to, ApError *err) {
  dim3 block = c->kernel == KERNEL_GENERIC ? dim3(c->threads) : dim3(MS_PAD, c->threads / MS_PAD);
  if (c->kernel == KERNEL_SPAN) {
    long long P = c->k0.presentations;
    for (int e = from.record; e <= ap_last_record(to); e++) {
      long long u0, u1;
      ap_part(from, to, c->k0.units, e, &u0, &u1);
      ap_status st =
          u0 < P ? span_presentations(c, e, (int)u0, (int)(u1 < P ? u1 : P), err) : AP_OK;
      if (!st && u1 >= P) st = span_rest(c, e, u0, u1, e - from.record, block, err);
      if (st) return st;
    }
    return AP_OK;
  }
  records<<<c->R, block, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->ser, c->data, from.record,
                                         from.unit, to.record, to.unit, c->d_series, c->chunk, 0);
  CUDA_CHECK(cudaGetLastError());
  return AP_OK;
}

/* Waits for the launch and copies the series of the records it ended (from.record ..
 * to.record - 1) into the run's. */
static ap_status collect(ApCohort *c, ApPos from, ApPos to, const ApSeriesBuf *out, ApError *err) {
  size_t F = (size_t)c->ser.width, row = (size_t)c->chunk * F;
  if (to.record == from.record) { /* waited for all the same: the host times its calls */
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return AP_OK;
  }
  CUDA_CHECK(cudaMemcpyAsync(c->h_series, c->d_series, (size_t)c->R * row * sizeof(float),
                             cudaMemcpyDeviceToHost, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int i = 0; i < c->R; i++)
    memcpy(out->base + ((size_t)c->h_rows[i] * (size_t)out->n_records + (size_t)from.record) * F,
           c->h_series + (size_t)i * row, (size_t)(to.record - from.record) * F * sizeof(float));
  return AP_OK;
}

/* busy stays as it is: the cohorts' kernels overlap on their streams, and no per-cohort
 * time is measured */
static ap_status cuda_run(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                          const ApSeriesBuf *out, double *busy, ApError *err) {
  (void)busy;
  int chunk = MAX_CHUNK;
  for (int i = 0; i < n_cohorts; i++) chunk = cohorts[i]->chunk < chunk ? cohorts[i]->chunk : chunk;
  for (ApPos a = from; a.record < to.record || a.unit < to.unit;) {
    ApPos b = {a.record + chunk, 0}; /* records a.record .. a.record + chunk - 1 at most */
    if (b.record > to.record || (b.record == to.record && to.unit > 0)) b = to;
    for (int i = 0; i < n_cohorts; i++) {
      ap_status st = launch(cohorts[i], a, b, err);
      if (st) return st;
    }
    for (int i = 0; i < n_cohorts; i++) {
      ap_status st = collect(cohorts[i], a, b, out, err);
      if (st) return st;
    }
    a = b;
  }
  return AP_OK;
}

static void cuda_describe_cohort(const ApCohort *c, char *buf, size_t n) {
  char l2[96];
  if (c->l2_window)
    snprintf(l2, sizeof l2, "L2 window %.1f MiB persisting", (double)c->l2_window / 1048576.0);
  else
    snprintf(l2, sizeof l2, "no L2 window (%s)", c->l2_note ? c->l2_note : "?");
  if (c->kernel == KERNEL_SPAN)
    snprintf(buf, n,
             "kernel span over %d SMs: a launch per iteration of %d x %d blocks of 16x%d "
             "threads, per image a start on %d block%s, per record the row sums on "
             "%d x %d blocks of %d and the end on %d block%s of %d threads; %s",
             c->sms, c->span_rows, c->R, SPAN_G, c->R, c->R == 1 ? "" : "s", c->span_units, c->R,
             SPAN_T, c->R, c->R == 1 ? "" : "s", c->threads, l2);
  else
    snprintf(buf, n,
             "kernel %s, %d block%s of %d threads (one per replica), %d records per launch; %s",
             kernel_names[c->kernel], c->R, c->R == 1 ? "" : "s", c->threads, c->chunk, l2);
}

static const ApModelImpl cuda_impl = {
    .versions = "generic|rows16|span",
    .cohort_create = cuda_cohort_create,
    .cohort_destroy = cuda_cohort_destroy,
    .state_set = cuda_state_set,
    .state_get = cuda_state_get,
    .run = cuda_run,
    .describe = cuda_describe_cohort,
};

extern "C" const ApModelImpl *ms_cuda_impl(void) { return &cuda_impl; }
