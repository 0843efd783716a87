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
 * "auto" takes generic until a session with a GPU has measured both.
 *
 * A cohort that does not fit in device memory is refused with the size it needs. Every
 * CUDA call and launch is checked, and every copy runs on the cohort's stream. */
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

/* The row pass of rows16, or 0 (not run) in a generic launch (blocks of 1-D, at least a
 * warp wide): group threadIdx.y of the blockDim.y takes every blockDim.y-th row, lane q
 * (threadIdx.x) its elements q, q + 16, ..., which in ms_row go to partial sum q. */
static __device__ __forceinline__ int rows16_pass(struct MsTeam t, const struct MsBody *b,
                                                  int terms) {
  (void)t;
  if (blockDim.x != MS_PAD) return 0;
  MsRep *r = b->r;
  const MsDims *d = &b->d;
  int lane = (int)threadIdx.x, G = (int)blockDim.y, n_rows = d->H + d->V;
  for (int i0 = 0; i0 < n_rows; i0 += G) { /* the same trip count for all: whole warps shuffle */
    int i = i0 + (int)threadIdx.y, u = -1;
    float acc = 0.0f;
    if (i < n_rows) {
      int hidden = i < d->H, n = hidden ? d->Np : d->Hp, self = hidden ? i : -1;
      float *w = hidden ? r->wh + (size_t)i * d->Np : r->wv + (size_t)(i - d->H) * d->Hp;
      u = hidden ? i : d->Hp + i - d->H;
      float a = r->ca[u], a2 = r->ca2[u];
      for (int j = lane; j < n; j += MS_PAD) {
        float wj = w[j];
        if (terms) {
          wj = fmaf(a, r->cx[j], wj);
          if (terms == 2) wj = fmaf(a2, r->cx2[j], wj);
          if (j == self) wj = 0.0f;
          w[j] = wj;
        }
        acc = fmaf(wj, r->rho[j], acc);
      }
    }
    for (int h = MS_PAD / 2; h > 0; h >>= 1) /* ms_tree16: acc[k] = acc[k] + acc[k + h] */
      acc = acc + __shfl_down_sync(0xffffffffu, acc, h, MS_PAD);
    if (lane == 0 && u >= 0) r->dot[u] = acc;
  }
  return 1;
}

/* Block r runs replica r. Its MsRep and MsConst are read into shared memory once; what the
 * body changes in the MsRep (the permutation's pass, frozen) goes back at the end. */
static __global__ void __launch_bounds__(MAX_THREADS)
    records(MsRep *reps, const MsConst *cst, MsDims d, MsSeries ser, ApData data, int e0, int e1,
            float *series, int chunk) {
  __shared__ MsRep rep;
  __shared__ MsConst k;
  int r = blockIdx.x;
  MsTeam t = {(int)(threadIdx.y * blockDim.x + threadIdx.x), (int)(blockDim.x * blockDim.y)};
  if (t.tid == 0) {
    rep = reps[r];
    k = cst[r];
  }
  __syncthreads();
  MsBody b = {&rep, &k, d, &data, &ser, 0};
  float *rows = series + (size_t)r * chunk * ser.width; /* [E][F] */
  for (int e = e0; e < e1; e++) ms_record(t, &b, e, rows + (size_t)(e - e0) * ser.width);
  __syncthreads();
  if (t.tid == 0) {
    reps[r].perm_pass = rep.perm_pass;
    reps[r].frozen = rep.frozen;
  }
}

enum { KERNEL_GENERIC, KERNEL_ROWS16 };
static const char *const kernel_names[] = {"generic", "rows16"};

/* ---- cohorts ------------------------------------------------------------------------- */

struct ApCohort {
  MsDims d;
  MsSeries ser;
  ApData data; /* device pointers */
  int has_data;
  int R;
  int threads;      /* per block */
  int chunk;        /* records per launch */
  int n_perm;       /* S (at least 1) */
  size_t q;         /* Q */
  int kernel;       /* KERNEL_* */
  int *h_rows;      /* [R] series rows */
  float *h_mem;     /* [R][Q] the internal blocks, staged */
  MsRep *h_reps;    /* [R] pointing into d_mem and d_perm */
  float *h_series;  /* [R][chunk][F] */
  float *d_mem;     /* [R][Q] */
  uint32_t *d_perm; /* [R][S] */
  MsRep *d_reps;    /* [R] */
  MsConst *d_const; /* [R] */
  float *d_series;  /* [R][chunk][F] */
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

static ap_status pick_kernel(ApCohort *c, const char *v, ApError *err) {
  if (!v || !*v || !strcmp(v, "auto") || !strcmp(v, "generic"))
    c->kernel = KERNEL_GENERIC;
  else if (!strcmp(v, "rows16"))
    c->kernel = KERNEL_ROWS16;
  else
    return ap_fail(err, AP_ERR_USAGE, "cuda kernel %s: mstdp has auto, generic and rows16", v);
  return AP_OK;
}

static ap_status cohort_alloc(ApCohort *c, const ApCohortSpec *spec, ApError *err) {
  const MsParams *params = (const MsParams *)spec->params;
  const ApData *data = spec->data;
  ap_status st = pick_kernel(c, spec->exec.version, err);
  if (st) return st;
  c->d = ms_dims(&params[0]);
  ApLayout lay;
  if (ms_layout_init(&params[0], &lay, &c->ser))
    return ap_fail(err, AP_ERR_CONFIG, "mstdp: too many state fields or series");
  c->R = spec->n;
  c->q = ms_rep_floats(&c->d);
  c->n_perm = data->n_train > 0 ? data->n_train : 1;
  int units = c->d.H + c->d.V, whole = c->kernel == KERNEL_ROWS16 ? 2 : 32;
  int want = (units + whole - 1) / whole * whole * (c->kernel == KERNEL_ROWS16 ? MS_PAD : 1);
  c->threads = want < MAX_THREADS ? want : MAX_THREADS; /* rows16: 16 x an even count */
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
    ms_convert(&c->d, &r, (float *)state + (size_t)i * nc, 0);
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
    ms_convert(&c->d, &r, state + (size_t)i * nc, 1);
  }
  return AP_OK;
}

/* Launches records e0 .. e1-1 (at most chunk) of every replica. */
static ap_status launch(ApCohort *c, int e0, int e1, ApError *err) {
  dim3 block = c->kernel == KERNEL_ROWS16 ? dim3(MS_PAD, c->threads / MS_PAD) : dim3(c->threads);
  records<<<c->R, block, 0, c->stream>>>(c->d_reps, c->d_const, c->d, c->ser, c->data, e0, e1,
                                         c->d_series, c->chunk);
  CUDA_CHECK(cudaGetLastError());
  return AP_OK;
}

/* Copies the launch's series into the run's. */
static ap_status collect(ApCohort *c, int e0, int e1, const ApSeriesBuf *out, ApError *err) {
  size_t F = (size_t)c->ser.width, row = (size_t)c->chunk * F;
  CUDA_CHECK(cudaMemcpyAsync(c->h_series, c->d_series, (size_t)c->R * row * sizeof(float),
                             cudaMemcpyDeviceToHost, c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int i = 0; i < c->R; i++)
    memcpy(out->base + ((size_t)c->h_rows[i] * (size_t)out->n_records + (size_t)e0) * F,
           c->h_series + (size_t)i * row, (size_t)(e1 - e0) * F * sizeof(float));
  return AP_OK;
}

/* busy stays as it is: the cohorts' kernels overlap on their streams, and no per-cohort
 * time is measured */
static ap_status cuda_run(ApCohort *const *cohorts, int n_cohorts, int e0, int e1,
                          const ApSeriesBuf *out, double *busy, ApError *err) {
  (void)busy;
  int chunk = MAX_CHUNK;
  for (int i = 0; i < n_cohorts; i++) chunk = cohorts[i]->chunk < chunk ? cohorts[i]->chunk : chunk;
  for (int a = e0; a < e1;) {
    int b = a + chunk < e1 ? a + chunk : e1;
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
  snprintf(buf, n, "kernel %s, %d block%s of %d threads (one per replica), %d records per launch",
           kernel_names[c->kernel], c->R, c->R == 1 ? "" : "s", c->threads, c->chunk);
}

static const ApModelImpl cuda_impl = {
    "generic|rows16", cuda_cohort_create, cuda_cohort_destroy,  cuda_state_set,
    cuda_state_get,   cuda_run,           cuda_describe_cohort,
};

extern "C" const ApModelImpl *ms_cuda_impl(void) { return &cuda_impl; }
