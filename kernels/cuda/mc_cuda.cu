/* CUDA backend for the microcircuit.
 *
 * Layout on the device: every per-replica array is replica-innermost, x[element][R_pad]
 * (R_pad = replicas rounded up to a warp), so the 32 threads of a warp, one replica each,
 * load and store consecutive words. The state fields are the canonical ones of
 * mc_model.h; the host transposes at the boundary (state_set / state_get).
 *
 * Kernel versions (STYLE.md: keep the naive port, add faster ones beside it). Both give
 * the CPU backend's numbers bit for bit, so the choice changes speed only:
 *   generic  one thread per replica runs whole epochs of mc_r_epochs (kernels/
 *            mc_replica.h), the code tests/test_replica.c runs on the CPU against the CPU
 *            backend; any dims. State and work arrays stay in global memory.
 *   warp     one warp per replica runs mw_epochs (kernels/mc_warp.h): lane i is hidden
 *            neuron i, every weight sits in its lane's registers for a whole launch, the
 *            only memory traffic is the sample and the metrics. For dims MW0-MW1-MW2
 *            (9-30-3, Bars) and at most 64 samples; tests/test_warp.c runs the same code
 *            on the CPU.
 * auto takes warp where it applies (APICAL_CUDA_KERNEL=generic|warp overrides). Which wins
 * at which size, and cuBLAS for wide layers, are for a session with a GPU to measure.
 *
 * Replicas that do not fit in device memory at once are split into parts that take turns
 * (the state of the others waits on the host); a cohort that cannot fit even one warp's
 * worth of replicas is refused with the size it needs. Every CUDA call and launch is
 * checked. */
#include "../backend.h"
#include "../mc_replica.h"
#include "../mc_warp.h"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARP 32
#define THREADS 128
#define MAX_CHUNK 256 /* epochs per launch: bounds the device metrics buffers */

#define CUDA_CHECK(call)                                                                      \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess)                                                                   \
      return ap_fail(err, AP_ERR_UNAVAILABLE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,   \
                     cudaGetErrorString(e_));                                                \
  } while (0)

/* ---- kernels: indexing and launch only; the model is mc_replica.h ------------------- */

static __global__ void refresh_kernel(float *state, float *work, const McConst *cst,
                                      const McLayout *lay, McWork w, int R, int R_pad) {
  int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= R) return;
  McView st = {state + r, (size_t)R_pad}, wk = {work + r, (size_t)R_pad};
  McConst k = cst[r];
  for (int i = 0; i < w.n_floats; i++) MC_AT(wk, i) = 0.0f;
  mc_r_refresh_rates(st, wk, lay, &w, &k);
}

static __global__ void epochs_generic(float *state, float *work, uint32_t *perm, const McConst *cst,
                                      const McLayout *lay, McWork w, McSchedule sch, McData data,
                                      int e0, int e1, McMetrics m, int R, int R_pad) {
  int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= R) return;
  McView st = {state + r, (size_t)R_pad}, wk = {work + r, (size_t)R_pad};
  McConst k = cst[r];
  mc_r_epochs(st, wk, perm + r, (size_t)R_pad, lay, &w, &k, &sch, &data, e0, e1, &m, r, e0);
}

static __global__ void __launch_bounds__(THREADS)
    epochs_warp(float *state, const McConst *cst, const McLayout *lay, McSchedule sch, McData data,
                int e0, int e1, McMetrics m, int R, int R_pad) {
  __shared__ float rows[THREADS / WARP][2 * MW2 * MW1];
  int r = (int)((blockIdx.x * blockDim.x + threadIdx.x) / WARP);
  if (r >= R) return; /* whole warps leave together */
  McView st = {state + r, (size_t)R_pad};
  mw_epochs(st, lay, cst + r, &sch, &data, e0, e1, &m, r, e0, /* constants stay in L1 */
            rows[threadIdx.x / WARP]);
}

enum { KERNEL_GENERIC, KERNEL_WARP };

static int warp_fits(const McLayout *lay, const McData *data) {
  const McDims *d = &lay->dims;
  return d->n_layers == 2 && d->n[0] == MW0 && d->n[1] == MW1 && d->n[2] == MW2 &&
         data->n_train <= MW_MAX_SAMPLES && data->n_valset <= MW_MAX_SAMPLES;
}

/* ---- device data shared by the cohorts of a run -------------------------------------- */

typedef struct DeviceData {
  const McData *host; /* the host dataset this copies */
  McData d;           /* device pointers */
  int users;
} DeviceData;

static DeviceData g_data;

static ap_status data_acquire(const McData *h, McData *out, ApError *err) {
  if (g_data.users > 0 && g_data.host == h) {
    g_data.users++;
    *out = g_data.d;
    return AP_OK;
  }
  if (g_data.users > 0)
    return ap_fail(err, AP_ERR_SOFTWARE, "cuda backend: cohorts of one run must share one dataset");
  McData d = *h;
  size_t xt = (size_t)h->n_train * (size_t)h->n_in, xv = (size_t)h->n_valset * (size_t)h->n_in;
  float *x_train, *x_val;
  int *y_train, *y_val;
  CUDA_CHECK(cudaMalloc(&x_train, xt * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&y_train, (size_t)h->n_train * sizeof(int)));
  CUDA_CHECK(cudaMemcpy(x_train, h->x_train, xt * sizeof(float), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(y_train, h->y_train, (size_t)h->n_train * sizeof(int), cudaMemcpyHostToDevice));
  if (h->x_val == h->x_train && h->y_val == h->y_train) {
    x_val = x_train;
    y_val = y_train;
  } else {
    CUDA_CHECK(cudaMalloc(&x_val, xv * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&y_val, (size_t)h->n_valset * sizeof(int)));
    CUDA_CHECK(cudaMemcpy(x_val, h->x_val, xv * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(y_val, h->y_val, (size_t)h->n_valset * sizeof(int), cudaMemcpyHostToDevice));
  }
  d.x_train = x_train, d.y_train = y_train, d.x_val = x_val, d.y_val = y_val;
  g_data.host = h;
  g_data.d = d;
  g_data.users = 1;
  *out = d;
  return AP_OK;
}

static void data_release(void) {
  if (g_data.users == 0 || --g_data.users > 0) return;
  if (g_data.d.x_val != g_data.d.x_train) cudaFree((void *)g_data.d.x_val);
  if (g_data.d.y_val != g_data.d.y_train) cudaFree((void *)g_data.d.y_val);
  cudaFree((void *)g_data.d.x_train);
  cudaFree((void *)g_data.d.y_train);
  memset(&g_data, 0, sizeof g_data);
}

/* ---- cohorts ------------------------------------------------------------------------- */

struct McCohort {
  McLayout lay;
  McSchedule sch;
  McWork work;
  McData data; /* device pointers */
  int has_data;
  int R;              /* replicas */
  int part, n_parts;  /* replicas per part (a multiple of 32), parts */
  int n_samples;      /* largest sample set: the order buffer's length */
  McParams *h_params; /* [R] */
  int *h_rows;        /* [R] metrics rows */
  float *h_state;     /* [R][n_floats] canonical; the truth when n_parts > 1 */
  float *h_stage;     /* [n_floats][part] transposing area */
  float *h_metrics;   /* [7][part][MAX_CHUNK] */
  /* device, sized for one part */
  McLayout *d_lay;
  McConst *d_const; /* [part] of the resident part */
  float *d_state;   /* [n_floats][part] */
  float *d_work;    /* [work.n_floats][part] */
  uint32_t *d_perm; /* [n_samples][part] */
  float *d_metrics; /* [7][part][MAX_CHUNK] */
  int resident;     /* which part is on the device (-1: none) */
  int kernel;       /* KERNEL_* */
  cudaStream_t stream;
};

static int part_size(const McCohort *c, int p) {
  int left = c->R - p * c->part;
  return left < c->part ? left : c->part;
}

static size_t bytes_per_replica(const McCohort *c) {
  return sizeof(float) * ((size_t)c->lay.n_floats + (size_t)c->work.n_floats + 7 * MAX_CHUNK) +
         sizeof(uint32_t) * (size_t)c->n_samples + sizeof(McConst);
}

static ap_status cuda_probe(ApError *err) {
  int n = 0;
  cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "no CUDA device answers (%s)", cudaGetErrorString(rc));
  if (n == 0) return ap_fail(err, AP_ERR_UNAVAILABLE, "no CUDA device found");
  rc = cudaFree(0);
  if (rc != cudaSuccess)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "the CUDA device does not start (%s)", cudaGetErrorString(rc));
  return AP_OK;
}

static void cuda_describe(char *buf, size_t n) {
  int dev = 0;
  cudaDeviceProp p;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    snprintf(buf, n, "cuda (device not readable)");
    return;
  }
  const char *k = getenv("APICAL_CUDA_KERNEL");
  snprintf(buf, n, "cuda, %s (%d SMs, %.0f GiB), kernel %s", p.name, p.multiProcessorCount,
           (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), k && *k ? k : "auto");
}

static void cuda_cohort_destroy(McCohort *c) {
  if (!c) return;
  cudaFree(c->d_lay);
  cudaFree(c->d_const);
  cudaFree(c->d_state);
  cudaFree(c->d_work);
  cudaFree(c->d_perm);
  cudaFree(c->d_metrics);
  if (c->stream) cudaStreamDestroy(c->stream);
  if (c->has_data) data_release();
  free(c->h_params);
  free(c->h_rows);
  free(c->h_state);
  free(c->h_stage);
  free(c->h_metrics);
  free(c);
}

static ap_status cohort_alloc(McCohort *c, const McCohortSpec *spec, const McData *data, ApError *err) {
  c->lay = spec->layout;
  c->sch = spec->schedule;
  c->R = spec->n_replicas;
  c->resident = -1;
  const char *kernel = getenv("APICAL_CUDA_KERNEL");
  if (!kernel || !*kernel || !strcmp(kernel, "auto"))
    c->kernel = warp_fits(&c->lay, data) ? KERNEL_WARP : KERNEL_GENERIC;
  else if (!strcmp(kernel, "generic"))
    c->kernel = KERNEL_GENERIC;
  else if (!strcmp(kernel, "warp") && warp_fits(&c->lay, data))
    c->kernel = KERNEL_WARP;
  else
    return ap_fail(err, AP_ERR_USAGE, "APICAL_CUDA_KERNEL=%s: expected auto, generic or warp "
                   "(warp only for dims %d-%d-%d and at most %d samples)", kernel, MW0, MW1, MW2,
                   MW_MAX_SAMPLES);
  mc_work_init(&c->work, &c->lay);
  c->n_samples = data->n_train > data->n_valset ? data->n_train : data->n_valset;
  size_t nf = (size_t)c->lay.n_floats;
  c->h_params = (McParams *)malloc((size_t)c->R * sizeof(McParams));
  c->h_rows = (int *)malloc((size_t)c->R * sizeof(int));
  c->h_state = (float *)calloc((size_t)c->R * nf, sizeof(float));
  if (!c->h_params || !c->h_rows || !c->h_state)
    return ap_fail(err, AP_ERR_OSERR, "out of host memory for %d replicas", c->R);
  memcpy(c->h_params, spec->params, (size_t)c->R * sizeof(McParams));
  memcpy(c->h_rows, spec->replica_ids, (size_t)c->R * sizeof(int));

  /* how many replicas fit on the device at once */
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  size_t per = bytes_per_replica(c), budget = free_b / 10 * 9;
  size_t want = ((size_t)c->R + WARP - 1) / WARP * WARP;
  size_t fit = budget / per / WARP * WARP;
  if (fit == 0)
    return ap_fail(err, AP_ERR_OSERR, "cuda: %zu bytes per replica; %d replicas need %.1f MiB, "
                   "%.1f MiB are free", per, WARP, (double)(per * WARP) / 1048576.0,
                   (double)free_b / 1048576.0);
  c->part = (int)(want < fit ? want : fit);
  c->n_parts = (c->R + c->part - 1) / c->part;

  size_t P = (size_t)c->part;
  c->h_stage = (float *)malloc(nf * P * sizeof(float));
  c->h_metrics = (float *)malloc(7 * P * MAX_CHUNK * sizeof(float));
  if (!c->h_stage || !c->h_metrics) return ap_fail(err, AP_ERR_OSERR, "out of host memory");
  CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  CUDA_CHECK(cudaMalloc(&c->d_lay, sizeof(McLayout)));
  CUDA_CHECK(cudaMemcpy(c->d_lay, &c->lay, sizeof(McLayout), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMalloc(&c->d_const, P * sizeof(McConst)));
  CUDA_CHECK(cudaMalloc(&c->d_state, nf * P * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&c->d_work, (size_t)c->work.n_floats * P * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&c->d_perm, (size_t)c->n_samples * P * sizeof(uint32_t)));
  CUDA_CHECK(cudaMalloc(&c->d_metrics, 7 * P * MAX_CHUNK * sizeof(float)));
  ap_status st = data_acquire(data, &c->data, err);
  if (st) return st;
  c->has_data = 1;
  return AP_OK;
}

static ap_status cuda_cohort_create(const McCohortSpec *spec, const McData *data, McCohort **out,
                                    ApError *err) {
  McCohort *c = (McCohort *)calloc(1, sizeof *c);
  if (!c) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  ap_status st = cohort_alloc(c, spec, data, err);
  if (st) {
    cuda_cohort_destroy(c);
    return st;
  }
  *out = c;
  return AP_OK;
}

/* Puts part p's state, constants and fresh work arrays on the device. */
static ap_status upload_part(McCohort *c, int p, ApError *err) {
  size_t nf = (size_t)c->lay.n_floats, P = (size_t)c->part;
  int n = part_size(c, p), H = c->lay.dims.n_layers - 1;
  for (int i = 0; i < n; i++) {
    const float *src = c->h_state + (size_t)(p * c->part + i) * nf;
    for (size_t e = 0; e < nf; e++) c->h_stage[e * P + (size_t)i] = src[e];
  }
  McConst *k = (McConst *)malloc((size_t)n * sizeof(McConst));
  if (!k) return ap_fail(err, AP_ERR_OSERR, "out of host memory");
  for (int i = 0; i < n; i++)
    mc_const_init(&k[i], &c->h_params[p * c->part + i], c->sch.t_pres, H);
  cudaError_t rc = cudaMemcpy(c->d_const, k, (size_t)n * sizeof(McConst), cudaMemcpyHostToDevice);
  free(k);
  CUDA_CHECK(rc);
  CUDA_CHECK(cudaMemcpy(c->d_state, c->h_stage, nf * P * sizeof(float), cudaMemcpyHostToDevice));
  int blocks = (n + THREADS - 1) / THREADS;
  refresh_kernel<<<blocks, THREADS, 0, c->stream>>>(c->d_state, c->d_work, c->d_const, c->d_lay,
                                                    c->work, n, c->part);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  c->resident = p;
  return AP_OK;
}

static ap_status download_part(McCohort *c, ApError *err) {
  if (c->resident < 0) return AP_OK;
  size_t nf = (size_t)c->lay.n_floats, P = (size_t)c->part;
  int p = c->resident, n = part_size(c, p);
  CUDA_CHECK(cudaMemcpy(c->h_stage, c->d_state, nf * P * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; i++) {
    float *dst = c->h_state + (size_t)(p * c->part + i) * nf;
    for (size_t e = 0; e < nf; e++) dst[e] = c->h_stage[e * P + (size_t)i];
  }
  return AP_OK;
}

static ap_status cuda_state_set(McCohort *c, const float *state, ApError *err) {
  memcpy(c->h_state, state, (size_t)c->R * (size_t)c->lay.n_floats * sizeof(float));
  c->resident = -1;
  return c->n_parts == 1 ? upload_part(c, 0, err) : AP_OK;
}

static ap_status cuda_state_get(McCohort *c, float *state, ApError *err) {
  ap_status st = download_part(c, err);
  if (st) return st;
  memcpy(state, c->h_state, (size_t)c->R * (size_t)c->lay.n_floats * sizeof(float));
  return AP_OK;
}

/* The device metrics of a launch: each array [part][e1 - e0] (and [..][H] for the
 * self-prediction errors), packed at the start of its MAX_CHUNK-sized slot, so that only
 * what the launch wrote travels back. */
static McMetrics device_metrics(const McCohort *c, int cols) {
  size_t cells = (size_t)c->part * MAX_CHUNK;
  McMetrics m;
  m.n_epochs = cols;
  m.val_acc = c->d_metrics, m.val_mse = m.val_acc + cells, m.train_acc = m.val_mse + cells;
  m.ff_err = m.train_acc + cells, m.fb_err = m.ff_err + cells, m.api_err = m.fb_err + cells;
  m.inn_err = m.api_err + cells;
  return m;
}

/* Launches epochs e0 .. e1-1 for the resident part (e1 - e0 times H at most MAX_CHUNK). */
static ap_status launch(McCohort *c, int e0, int e1, ApError *err) {
  McMetrics m = device_metrics(c, e1 - e0);
  int n = part_size(c, c->resident);
  if (c->kernel == KERNEL_WARP) {
    int blocks = (int)(((size_t)n * WARP + THREADS - 1) / THREADS);
    epochs_warp<<<blocks, THREADS, 0, c->stream>>>(c->d_state, c->d_const, c->d_lay, c->sch, c->data,
                                                   e0, e1, m, n, c->part);
  } else {
    int blocks = (n + THREADS - 1) / THREADS;
    epochs_generic<<<blocks, THREADS, 0, c->stream>>>(c->d_state, c->d_work, c->d_perm, c->d_const,
                                                      c->d_lay, c->work, c->sch, c->data, e0, e1,
                                                      m, n, c->part);
  }
  CUDA_CHECK(cudaGetLastError());
  return AP_OK;
}

/* Copies the chunk's metrics of the resident part into the run's arrays. */
static ap_status collect(McCohort *c, int e0, int e1, McMetrics *out, ApError *err) {
  size_t P = (size_t)c->part, cells = P * MAX_CHUNK;
  int H = c->lay.dims.n_layers - 1, p = c->resident, n = part_size(c, p), cols = e1 - e0;
  size_t w[7] = {1, 1, 1, (size_t)H, (size_t)H, (size_t)H, (size_t)H};
  int arrays = H > 0 ? 7 : 3;
  for (int k = 0; k < arrays; k++)
    CUDA_CHECK(cudaMemcpyAsync(c->h_metrics + (size_t)k * cells, c->d_metrics + (size_t)k * cells,
                               (size_t)n * (size_t)cols * w[k] * sizeof(float), cudaMemcpyDeviceToHost,
                               c->stream));
  CUDA_CHECK(cudaStreamSynchronize(c->stream));
  float *dst[7] = {out->val_acc, out->val_mse, out->train_acc, out->ff_err,
                   out->fb_err,  out->api_err, out->inn_err};
  for (int i = 0; i < n; i++) {
    size_t row = (size_t)c->h_rows[p * c->part + i];
    for (int e = e0; e < e1; e++) {
      size_t d_re = row * (size_t)out->n_epochs + (size_t)e, s_re = (size_t)i * (size_t)cols + (size_t)(e - e0);
      for (int k = 0; k < arrays; k++)
        for (size_t h = 0; h < w[k]; h++)
          dst[k][d_re * w[k] + h] = c->h_metrics[(size_t)k * cells + s_re * w[k] + h];
    }
  }
  return AP_OK;
}

static ap_status cuda_run_epochs(McCohort **cohorts, int n_cohorts, int e0, int e1, McMetrics *m,
                                 ApError *err) {
  for (int a = e0; a < e1;) {
    int b = a + MAX_CHUNK;
    for (int i = 0; i < n_cohorts; i++) {
      int H = cohorts[i]->lay.dims.n_layers - 1;
      if (H > 1 && a + MAX_CHUNK / H < b) b = a + MAX_CHUNK / H;
    }
    if (b > e1) b = e1;
    /* single-part cohorts run side by side on their streams; split ones take turns */
    for (int i = 0; i < n_cohorts; i++) {
      McCohort *c = cohorts[i];
      if (c->n_parts > 1) continue;
      ap_status st = launch(c, a, b, err);
      if (st) return st;
    }
    for (int i = 0; i < n_cohorts; i++) {
      McCohort *c = cohorts[i];
      ap_status st = AP_OK;
      if (c->n_parts == 1) {
        st = collect(c, a, b, m, err);
      } else {
        for (int p = 0; p < c->n_parts && !st; p++) {
          if (!(st = download_part(c, err)) && !(st = upload_part(c, p, err)) &&
              !(st = launch(c, a, b, err)))
            st = collect(c, a, b, m, err);
        }
      }
      if (st) return st;
    }
    a = b;
  }
  return AP_OK;
}

static const ApBackend cuda_backend = {
    "cuda",          cuda_probe,      cuda_describe,  NULL,           cuda_cohort_create,
    cuda_cohort_destroy, cuda_state_set, cuda_state_get, cuda_run_epochs,
};

extern "C" const ApBackend *ap_backend_cuda(void) { return &cuda_backend; }
