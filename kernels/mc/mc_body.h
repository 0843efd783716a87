/* The microcircuit's step, sample schedule and metric accumulation, written once for
 * every version that runs replicas side by side in lanes (shared/DESIGN.md, "one body for
 * each step"): the CPU backend includes it with MC_LN = the SIMD width (a block of
 * replicas, each loop over lanes one vector sequence), the CUDA generic kernel with
 * MC_LN = 1 (one replica per thread). Equations and neuron types: mc_equations.h; the warp
 * kernel (mc_warp.h) is a faster version checked against this body bit for bit.
 *
 * Memory: every array of a body instance is lane-innermost, element i of lane l at
 * x[i * MC_S + l]. On the CPU MC_S = MC_LN, a constant, and the arrays are a block's own;
 * on the GPU MC_S is the padded replica count and a thread's lane 0 is its replica.
 *
 * The includer defines:
 *   MC_LN                  lanes (a compile-time constant)
 *   MC_STRIDE_VARIES       when MC_S is a runtime value (the GPU): helpers then take it
 *   MC_SIMD                the pragma that vectorises a loop over lanes (may be empty) */
#ifndef MC_BODY_H
#define MC_BODY_H

#include "../core/ap_rng.h"
#include "mc_equations.h"
#include "mc_params.h"

#include <math.h>

#ifndef MC_LN
#error "define MC_LN (lanes per body instance) before including mc_body.h"
#endif
#ifndef MC_SIMD
#define MC_SIMD
#endif

#ifdef MC_STRIDE_VARIES
#define MC_S stride_
#define MC_S_PARAM , size_t stride_
#define MC_S_ARG , stride_
#define MC_S_FROM(b) const size_t stride_ = (b)->stride
#else
#define MC_S MC_LN
#define MC_S_PARAM
#define MC_S_ARG
#define MC_S_FROM(b) ((void)0)
#endif

#ifdef __CUDACC__
#define MC_RESTRICT __restrict__
#else
#define MC_RESTRICT restrict
#endif

/* The CPU keeps the lane loops' helpers out of line: inlined into the step, gcc
 * allocated registers worse (measured 8% slower at 64 replicas on one Zen 4 core). */
#if defined(MC_HELPER)
/* the includer's choice */
#elif defined(__GNUC__) && !defined(__CUDACC__)
#define MC_HELPER __attribute__((noinline)) static
#else
#define MC_HELPER AP_HD
#endif

/* The body's own functions: inlined into the kernels on the GPU (a device call taking a
 * struct by value, which nvcc emitted once the body grew, crashes the CUDA simulator's
 * call handling; inlined, the kernels need no device calls at all). */
#ifdef __CUDACC__
#define MC_BODY_FN __host__ __device__ __forceinline__
#else
#define MC_BODY_FN AP_HD
#endif

/* A loop over the lanes: one SIMD sequence on the CPU, a single pass on the GPU. */
#define MC_LANES(l) MC_SIMD for (int l = 0; l < MC_LN; l++)
/* The same, or-ing an int over the lanes into var (MC_SIMD_ANY(var): its reduction). */
#ifndef MC_SIMD_ANY
#define MC_SIMD_ANY(var)
#endif
#define MC_LANES_ANY(l, var) MC_SIMD_ANY(var) for (int l = 0; l < MC_LN; l++)

/* The per-lane constants of a body instance (mc_const_init's, one per lane). */
/* Each per-lane constant is one SIMD vector: aligned to its size, its loads never split a
 * cache line. */
#if defined(__CUDACC__)
#define MC_LANE_ALIGN
#elif MC_LN * 4 >= 64
#define MC_LANE_ALIGN _Alignas(64)
#else
#define MC_LANE_ALIGN _Alignas(MC_LN * 4)
#endif
typedef struct McLanes {
#define MC_SCALAR(name) MC_LANE_ALIGN float name[MC_LN];
#define MC_PER_LAYER(name) float name[MC_MAX_LAYERS][MC_LN];
  MC_CONST_SCALARS(MC_SCALAR)
  MC_CONST_LAYERS(MC_PER_LAYER)
#undef MC_SCALAR
#undef MC_PER_LAYER
  uint64_t seed[MC_LN];
  /* W_ip / W_pi plasticity of each hidden layer: MC_PLASTIC_NONE when no lane learns it,
   * _ALL when every lane does, _SOME when only some do (those with η = 0 then keep
   * their weights exactly, whatever their own errors hold). */
  int ip_mode[MC_MAX_LAYERS], pi_mode[MC_MAX_LAYERS];
  int any_refractory; /* poisson: some lane has a refractory period */
} McLanes;

enum { MC_PLASTIC_NONE, MC_PLASTIC_ALL, MC_PLASTIC_SOME };

/* Lane l takes replica constants c. */
AP_HD void mc_lanes_set(McLanes *k, int l, const McConst *c) {
#define MC_SCALAR(name) k->name[l] = c->name;
#define MC_PER_LAYER(name)                                                                         \
  for (int ly = 0; ly < MC_MAX_LAYERS; ly++) k->name[ly][l] = c->name[ly];
  MC_CONST_SCALARS(MC_SCALAR)
  MC_CONST_LAYERS(MC_PER_LAYER)
#undef MC_SCALAR
#undef MC_PER_LAYER
  k->seed[l] = c->seed;
}

/* After every lane is set: which plastic steps run, and how. */
AP_HD void mc_lanes_finish(McLanes *k) {
  for (int ly = 0; ly < MC_MAX_LAYERS; ly++) {
    int ip = 0, pi = 0;
    for (int l = 0; l < MC_LN; l++) {
      ip += k->c_ip[ly][l] != 0.0f;
      pi += k->c_pi[ly][l] != 0.0f;
    }
    k->ip_mode[ly] = ip == 0 ? MC_PLASTIC_NONE : ip == MC_LN ? MC_PLASTIC_ALL : MC_PLASTIC_SOME;
    k->pi_mode[ly] = pi == 0 ? MC_PLASTIC_NONE : pi == MC_LN ? MC_PLASTIC_ALL : MC_PLASTIC_SOME;
  }
  k->any_refractory = 0;
  for (int l = 0; l < MC_LN; l++) k->any_refractory |= k->refractory[l] != 0.0f;
}

/* Where a step is in the schedule, for its spike draws' counter: c0 = AP_RNG_SPIKES +
 * 16 phase, c1 = the record, c2 = the step within the phase (sample position x t_pres
 * + step in the sample). */
typedef struct McTick {
  uint32_t c0, c1, c2;
} McTick;

/* One body instance: MC_LN replicas of a cohort. */
typedef struct McBody {
  float *st;      /* [lay.n_floats][S] the canonical fields */
  float *frozen;  /* [lay.n_floats][S] where frozen lanes keep their state during a record;
                   * NULL with one lane (a frozen replica then skips its records) */
  float *wk;      /* [work.n_rows][S] */
  uint32_t *perm; /* [max(S_train, S_val)][S] sample orders */
  size_t stride;  /* S, read where MC_STRIDE_VARIES */
  const McLayout *lay;
  const McWork *wo;
  const McLanes *k;
  McSched sch;
  const ApData *data;
  int cur; /* the rate buffer that holds the previous step's rates (spike estimates
            * n / (psi dt) for poisson neurons) */
  /* The wide path (one replica, MC_LN = 1) runs a body instance on a team of threads
   * sharing st, wk and perm: every loop over neurons is split among them in contiguous
   * chunks (mc_rows), whole-replica work is the lead's (rank 0), and mc_sync separates the
   * phases. A row is always computed whole by one thread, so the team's size never changes
   * a bit. team <= 1: the body runs alone (the lane path). */
  int rank, team;
  int wide_sum; /* dot products over >= MC_WIDE_MIN_PRE inputs in MC_WIDE_PARTIALS
                 * partial sums (vectorised over the presynaptic index); 0: j ascending */
  int pending;  /* fused (McWork.fuse): bit ly, W_up of layer ly has a step pending */
  /* A team spread over several CUDA blocks (the wide kernel): its n_blocks blocks meet at
   * the replica's grid barrier, counters at bar (mc_cuda.cu). NULL, 0: one block, or the CPU. */
  unsigned *bar;
  int n_blocks;
} McBody;

/* The rows [lo, hi) of n a team member takes: chunks of MC_TEAM_ALIGN rows (whole cache
 * lines on the CPU; whole blocks of four neurons, mc_emit's unit, where neurons spike),
 * chunk MC_TEAM_CHUNK(b) for member b (its rank; the GPU deals the chunks out over its
 * warps first, so that the rows a warp sums together spread over the team). */
#ifndef MC_TEAM_ALIGN
#define MC_TEAM_ALIGN 16
#endif
#ifndef MC_TEAM_CHUNK
#define MC_TEAM_CHUNK(b) ((b)->rank)
#endif
typedef struct McRows {
  int lo, hi;
} McRows;

MC_BODY_FN McRows mc_rows(const McBody *b, int n) {
  McRows r = {0, n};
  if (b->team > 1) {
    /* no integer division where a member takes at most one chunk (the usual case of a
     * GPU team; a division is a long-latency instruction there, and this runs at every
     * loop over neurons); MC_TEAM_ALIGN is a power of two */
    int per = n <= b->team ? 1 : (n + b->team - 1) / b->team;
    per = (per + MC_TEAM_ALIGN - 1) & -(MC_TEAM_ALIGN);
    const int c = MC_TEAM_CHUNK(b);
    r.lo = c * per < n ? c * per : n;
    r.hi = r.lo + per < n ? r.lo + per : n;
  }
  return r;
}

/* Every member of the team waits for the others (nothing for a body alone). */
#ifndef MC_BARRIER
#if defined(__CUDA_ARCH__)
#define MC_BARRIER() __syncthreads()
#elif defined(__CUDACC__)
#define MC_BARRIER() ((void)0) /* the host side of the CUDA build never runs a team */
#else
#define MC_BARRIER() _Pragma("omp barrier")
#endif
#endif
/* the team of b meets (a team over several blocks: the includer's MC_BARRIER_OF) */
#ifndef MC_BARRIER_OF
#define MC_BARRIER_OF(b) MC_BARRIER()
#endif
#define mc_sync(b)                                                                                 \
  do {                                                                                             \
    if ((b)->team > 1) {                                                                           \
      MC_BARRIER_OF(b);                                                                            \
    }                                                                                              \
  } while (0)
#define mc_lead(b) ((b)->team <= 1 || (b)->rank == 0)
#define MC_FOR_ROWS(b, i, n)                                                                       \
  for (int i = mc_rows(b, n).lo, i##_hi = mc_rows(b, n).hi; i < i##_hi; i++)

#define MC_WIDE_PARTIALS 64 /* mc_matvec's tree is written out for 64 */
/* McBody.wide_sum of a team of whole warps (the CUDA wide kernel): the partial sums of a
 * row are its warp's lanes', two each (mc_matvec) */
#define MC_WIDE_WARP 2
/* a team of warps loads this many blocks of 64 inputs of a row before summing them */
#define MC_WARP_BATCH 8

/* Where the series of each lane go: lane l's record e at
 * base + row(l) * row_stride + (e - col0) * width, row(l) = rows[l] (or l without rows);
 * lanes from n_real on are padding and write nothing. */
typedef struct McOut {
  float *base;
  size_t row_stride;
  int col0, width;
  const int *rows;
  int n_real;
} McOut;

/* ---- products and weight updates ------------------------------------------------------ */

/* out[i] = Σ_j W[i][j] r[j] per lane for the rows rw, j ascending; W [n_post][n_pre][S].
 * wide (one lane, n_pre >= MC_WIDE_MIN_PRE): partial sum q takes the j with j % P = q,
 * j ascending, and the P = MC_WIDE_PARTIALS partials add up in a fixed tree (the same
 * bits at any SIMD width; a stated tolerance from the j-ascending order).
 * g (one lane; NULL: none): a pending Urbanczik-Senn step of the matrix, applied on the
 * way, W[i][j] = mc_weight_step(W[i][j], g[i], x[j]) (clipped to ±w_max[0] when given),
 * before W[i][j] enters the sum: the same numbers as mc_plastic and then mc_matvec, in
 * one pass over W instead of two (the "fused" wide path, mc_body_step). */
MC_HELPER void mc_matvec(float *MC_RESTRICT out, float *MC_RESTRICT W, const float *MC_RESTRICT r,
                         McRows rw, int n_pre, int wide, const float *MC_RESTRICT g,
                         const float *MC_RESTRICT x, const float *MC_RESTRICT w_max MC_S_PARAM) {
#if MC_LN == 1
#if defined(__CUDA_ARCH__)
  if (wide == MC_WIDE_WARP && n_pre >= MC_WIDE_MIN_PRE) {
    /* A team of whole warps: every row of a lane's rw is summed by the lane's whole warp,
     * lane q holding partials q and q + 32 (the inputs j with j % 64 = q, j ascending:
     * the loads of a warp are 32 neighbouring words), then the tree of MC_HALVE: the
     * halving by 32 within the lane, the others by shuffles. The same terms, the same
     * order, the same bits as MC_DOT below; each weight is stepped by one lane. The owner
     * lane reads out[i] after the __syncwarp. */
    const unsigned all = 0xffffffffu;
    const int q = (int)(threadIdx.x & 31u);
    const float wm = w_max ? w_max[0] : 0.0f;
    __syncwarp();
    unsigned busy = __ballot_sync(all, rw.lo < rw.hi);
    while (busy) {
      const int src = __popc((busy & (0u - busy)) - 1u); /* the lowest (no __ffs: the CUDA
                                                          * simulator cannot parse its bfind) */
      busy &= busy - 1u;
      const int lo = __shfl_sync(all, rw.lo, src), hi = __shfl_sync(all, rw.hi, src);
      for (int i = lo; i < hi; i++) {
        float *MC_RESTRICT w = W + (size_t)i * (size_t)n_pre * MC_S;
        const float gi = g ? g[(size_t)i * MC_S] : 0.0f;
        /* MC_WARP_BATCH iterations of j0 at a time: every load of a batch is issued
         * before its sums (the weights' steps and stores, then each partial's fmaf in
         * j order), so a row costs a few memory round trips, not one per 64 inputs;
         * the lanes past n_pre load nothing and add nothing */
        float p0 = 0.0f, p1 = 0.0f;
        for (int j0 = 0; j0 < n_pre; j0 += MC_WIDE_PARTIALS * MC_WARP_BATCH) {
          float wa[2 * MC_WARP_BATCH], ra[2 * MC_WARP_BATCH], xa[2 * MC_WARP_BATCH];
#pragma unroll
          for (int u = 0; u < 2 * MC_WARP_BATCH; u++) {
            const int j = j0 + 32 * u + q;
            const int ok = j < n_pre;
            wa[u] = ok ? w[(size_t)j * MC_S] : 0.0f;
            ra[u] = ok ? r[(size_t)j * MC_S] : 0.0f;
            xa[u] = ok && g ? x[(size_t)j * MC_S] : 0.0f;
          }
          if (g) {
#pragma unroll
            for (int u = 0; u < 2 * MC_WARP_BATCH; u++) {
              const int j = j0 + 32 * u + q;
              if (j < n_pre) {
                wa[u] = w_max ? mc_weight_step_clipped(wa[u], gi, xa[u], wm)
                              : mc_weight_step(wa[u], gi, xa[u]);
                w[(size_t)j * MC_S] = wa[u];
              }
            }
          }
#pragma unroll
          for (int u = 0; u < MC_WARP_BATCH; u++) {
            if (j0 + 64 * u + q < n_pre) p0 = fmaf(wa[2 * u], ra[2 * u], p0);
            if (j0 + 64 * u + 32 + q < n_pre) p1 = fmaf(wa[2 * u + 1], ra[2 * u + 1], p1);
          }
        }
        p0 += p1;
        for (int h = 16; h >= 1; h >>= 1) p0 += __shfl_down_sync(all, p0, (unsigned)h);
        if (q == 0) out[(size_t)i * MC_S] = p0;
      }
    }
    __syncwarp();
    return;
  }
#endif
#if defined(__CUDA_ARCH__)
  if (!g && !(wide && n_pre >= MC_WIDE_MIN_PRE)) {
    /* a scalar sum (j ascending) by one thread: 16 loads issued before their fmaf, so
     * that a short row costs one memory round trip, not one per few inputs */
    for (int i = rw.lo; i < rw.hi; i++) {
      const float *MC_RESTRICT w = W + (size_t)i * (size_t)n_pre * MC_S;
      float acc = 0.0f;
      for (int j0 = 0; j0 < n_pre; j0 += 16) {
        float wa[16], ra[16];
#pragma unroll
        for (int u = 0; u < 16; u++) {
          wa[u] = j0 + u < n_pre ? w[(size_t)(j0 + u) * MC_S] : 0.0f;
          ra[u] = j0 + u < n_pre ? r[(size_t)(j0 + u) * MC_S] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < 16; u++)
          if (j0 + u < n_pre) acc = fmaf(wa[u], ra[u], acc);
      }
      out[(size_t)i * MC_S] = acc;
    }
    return;
  }
#endif
  /* MC_DOT(W_AT): row i's sum, the weight of input jj read as W_AT(jj) */
#define MC_W_PLAIN(jj) w[(size_t)(jj)*MC_S]
#define MC_W_STEP(jj)                                                                              \
  (w[(size_t)(jj)*MC_S] = mc_weight_step(w[(size_t)(jj)*MC_S], gi, x[(size_t)(jj)*MC_S]))
#define MC_W_CLIP(jj)                                                                              \
  (w[(size_t)(jj)*MC_S] =                                                                          \
       mc_weight_step_clipped(w[(size_t)(jj)*MC_S], gi, x[(size_t)(jj)*MC_S], wm))
#define MC_HALVE(h) MC_SIMD for (int q = 0; q < (h); q++) p[q] += p[q + (h)];
#define MC_DOT(W_AT)                                                                               \
  if (wide && n_pre >= MC_WIDE_MIN_PRE) {                                                          \
    float p[MC_WIDE_PARTIALS];                                                                     \
    MC_SIMD for (int q = 0; q < MC_WIDE_PARTIALS; q++) p[q] = 0.0f;                                \
    int j0 = 0;                                                                                    \
    for (; j0 + MC_WIDE_PARTIALS <= n_pre; j0 += MC_WIDE_PARTIALS)                                 \
      MC_SIMD for (int q = 0; q < MC_WIDE_PARTIALS; q++) p[q] =                                    \
          fmaf(W_AT(j0 + q), r[(size_t)(j0 + q) * MC_S], p[q]);                                    \
    /* the tail: sixteen at a time into partials j - j0, then one at a time */                     \
    int q0 = 0;                                                                                    \
    for (; j0 + q0 + 16 <= n_pre; q0 += 16)                                                        \
      MC_SIMD for (int q = q0; q < q0 + 16; q++) p[q] =                                            \
          fmaf(W_AT(j0 + q), r[(size_t)(j0 + q) * MC_S], p[q]);                                    \
    for (int q = q0; j0 + q < n_pre; q++)                                                          \
      p[q] = fmaf(W_AT(j0 + q), r[(size_t)(j0 + q) * MC_S], p[q]);                                 \
    /* the tree, halving: constant trip counts, which the compiler keeps in registers */           \
    MC_HALVE(32)                                                                                   \
    MC_HALVE(16) MC_HALVE(8) MC_HALVE(4) MC_HALVE(2) MC_HALVE(1) out[(size_t)i * MC_S] = p[0];     \
  } else { /* a scalar sum, j ascending */                                                         \
    float acc = 0.0f;                                                                              \
    for (int j = 0; j < n_pre; j++) acc = fmaf(W_AT(j), r[(size_t)j * MC_S], acc);                 \
    out[(size_t)i * MC_S] = acc;                                                                   \
  }
  for (int i = rw.lo; i < rw.hi; i++) {
    float *MC_RESTRICT w = W + (size_t)i * (size_t)n_pre * MC_S;
    if (!g) {
      MC_DOT(MC_W_PLAIN)
    } else if (w_max) {
      const float gi = g[(size_t)i * MC_S], wm = w_max[0];
      MC_DOT(MC_W_CLIP)
    } else {
      const float gi = g[(size_t)i * MC_S];
      MC_DOT(MC_W_STEP)
    }
  }
#undef MC_DOT
#undef MC_HALVE
#undef MC_W_PLAIN
#undef MC_W_STEP
#undef MC_W_CLIP
#else
  (void)wide, (void)g, (void)x, (void)w_max;
  for (int i = rw.lo; i < rw.hi; i++) {
    float acc[MC_LN];
    MC_LANES(l) acc[l] = 0.0f;
    const float *MC_RESTRICT w = W + (size_t)i * (size_t)n_pre * MC_S;
    for (int j = 0; j < n_pre; j++)
      MC_LANES(l) acc[l] = fmaf(w[j * MC_S + l], r[j * MC_S + l], acc[l]);
    MC_LANES(l) out[i * MC_S + l] = acc[l];
  }
#endif
}

/* out[l] = Σ_i (a[i][l] - b[i][l])² per lane, i ascending; b == NULL: Σ_i a[i][l]². */
MC_HELPER void mc_sum_squares(float *MC_RESTRICT out, const float *MC_RESTRICT a,
                              const float *MC_RESTRICT b, int n MC_S_PARAM) {
  float acc[MC_LN];
  MC_LANES(l) acc[l] = 0.0f;
  if (b)
    for (int i = 0; i < n; i++) MC_LANES(l) {
        float d = a[i * MC_S + l] - b[i * MC_S + l];
        acc[l] = fmaf(d, d, acc[l]);
      }
  else
    for (int i = 0; i < n; i++) MC_LANES(l) acc[l] = fmaf(a[i * MC_S + l], a[i * MC_S + l], acc[l]);
  MC_LANES(l) out[l] = acc[l];
}

/* Urbanczik-Senn step of a whole matrix (thesis eqs. 2.13-2.15): W[i][j] += c err[i] r[j]
 * per lane, clipped to ±w_max when w_max is given (W_up). masked: a lane with c = 0
 * keeps its row untouched (W_ip and W_pi of replicas that do not learn them).
 * wide (McBody.wide_sum): MC_WIDE_WARP, a team of whole warps, steps a lane's rows of at
 * least MC_WIDE_MIN_PRE inputs with its whole warp, lane q the inputs j with j % 32 = q
 * (each weight's step is its own: the same bits). */
AP_HD void mc_plastic(float *MC_RESTRICT W, const float *MC_RESTRICT c,
                      const float *MC_RESTRICT err, const float *MC_RESTRICT r,
                      const float *MC_RESTRICT w_max, int masked, McRows rw, int n_pre,
                      int wide MC_S_PARAM) {
#if defined(__CUDA_ARCH__) && MC_LN == 1
  if (wide == MC_WIDE_WARP && n_pre >= MC_WIDE_MIN_PRE) {
    const unsigned all = 0xffffffffu;
    const int q = (int)(threadIdx.x & 31u);
    __syncwarp(); /* err of the rows, written by their owners */
    unsigned busy = __ballot_sync(all, rw.lo < rw.hi && !(masked && c[0] == 0.0f));
    while (busy) {
      const int src = __popc((busy & (0u - busy)) - 1u);
      busy &= busy - 1u;
      const int lo = __shfl_sync(all, rw.lo, src), hi = __shfl_sync(all, rw.hi, src);
      for (int i = lo; i < hi; i++) {
        float *MC_RESTRICT w = W + (size_t)i * (size_t)n_pre * MC_S;
        const float g0 = c[0] * err[(size_t)i * MC_S];
        /* 2 MC_WARP_BATCH words per lane loaded before any is stepped (as mc_matvec) */
        for (int j0 = 0; j0 < n_pre; j0 += 64 * MC_WARP_BATCH) {
          float wa[2 * MC_WARP_BATCH], ra[2 * MC_WARP_BATCH];
#pragma unroll
          for (int u = 0; u < 2 * MC_WARP_BATCH; u++) {
            const int j = j0 + 32 * u + q;
            wa[u] = j < n_pre ? w[(size_t)j * MC_S] : 0.0f;
            ra[u] = j < n_pre ? r[(size_t)j * MC_S] : 0.0f;
          }
#pragma unroll
          for (int u = 0; u < 2 * MC_WARP_BATCH; u++) {
            const int j = j0 + 32 * u + q;
            if (j < n_pre)
              w[(size_t)j * MC_S] = w_max ? mc_weight_step_clipped(wa[u], g0, ra[u], w_max[0])
                                          : mc_weight_step(wa[u], g0, ra[u]);
          }
        }
      }
    }
    __syncwarp();
    return;
  }
#endif
  (void)wide;
  for (int i = rw.lo; i < rw.hi; i++) {
    float *MC_RESTRICT w = W + (size_t)i * (size_t)n_pre * MC_S;
    float g[MC_LN];
    MC_LANES(l) g[l] = c[l] * err[i * MC_S + l];
#if MC_LN == 1 /* one lane: the same steps, vectorised over the presynaptic index */
    if (masked && c[0] == 0.0f) continue;
#if defined(__CUDA_ARCH__)
    /* one thread: 16 weights loaded before any is stepped (a round trip per 16) */
    for (int j0 = 0; j0 < n_pre; j0 += 16) {
      float wa[16], ra[16];
#pragma unroll
      for (int u = 0; u < 16; u++) {
        wa[u] = j0 + u < n_pre ? w[(size_t)(j0 + u) * MC_S] : 0.0f;
        ra[u] = j0 + u < n_pre ? r[(size_t)(j0 + u) * MC_S] : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < 16; u++)
        if (j0 + u < n_pre)
          w[(size_t)(j0 + u) * MC_S] = w_max ? mc_weight_step_clipped(wa[u], g[0], ra[u], w_max[0])
                                             : mc_weight_step(wa[u], g[0], ra[u]);
    }
#else
    if (w_max) {
      const float g0 = g[0], m0 = w_max[0];
      MC_SIMD for (int j = 0; j < n_pre; j++) w[(size_t)j * MC_S] =
          mc_weight_step_clipped(w[(size_t)j * MC_S], g0, r[(size_t)j * MC_S], m0);
    } else {
      const float g0 = g[0];
      MC_SIMD for (int j = 0; j < n_pre; j++) w[(size_t)j * MC_S] =
          mc_weight_step(w[(size_t)j * MC_S], g0, r[(size_t)j * MC_S]);
    }
#endif
#else
    if (w_max)
      for (int j = 0; j < n_pre; j++) MC_LANES(l)
    w[j * MC_S + l] = mc_weight_step_clipped(w[j * MC_S + l], g[l], r[j * MC_S + l], w_max[l]);
    else if (masked) for (int j = 0; j < n_pre; j++) MC_LANES(l) w[j * MC_S + l] =
        c[l] != 0.0f ? mc_weight_step(w[j * MC_S + l], g[l], r[j * MC_S + l]) : w[j * MC_S + l];
    else for (int j = 0; j < n_pre; j++) MC_LANES(l) w[j * MC_S + l] =
        mc_weight_step(w[j * MC_S + l], g[l], r[j * MC_S + l]);
#endif
  }
}

/* n neurons whose u̇ is given: their new potentials (in place), the rate they transmit
 * next step and, when learning, their dendritic error φ(u_post) - φ(α v_dend). */
MC_HELPER void mc_somas(float *MC_RESTRICT u, float *MC_RESTRICT forw, float *MC_RESTRICT rate_new,
                        float *MC_RESTRICT err, const float *MC_RESTRICT udot,
                        const float *MC_RESTRICT v_dend, const float *alpha, const float *tau,
                        McRows rw, int learn, const McLanes *k MC_S_PARAM) {
  for (int i = rw.lo; i < rw.hi; i++) MC_LANES(l) {
      size_t x = (size_t)i * MC_S + (size_t)l;
      McSoma s = mc_soma_advance(u[x], udot[x], k->dt[l], tau[l], k->le[l], k->gamma[l], k->beta[l],
                                 k->theta[l]);
      rate_new[x] = s.rate;
      if (learn)
        err[x] =
            mc_dendritic_error(s.rate, alpha[l], v_dend[x], k->gamma[l], k->beta[l], k->theta[l]);
      forw[x] = s.forw;
      u[x] = s.u;
    }
}

/* y[i] += k (x[i] - y[i]) per lane: the poisson network's leaky dendrites and presynaptic
 * traces, the same low-pass as the inputs' (mc_lowpass). */
MC_HELPER void mc_lowpass_rows(float *MC_RESTRICT y, const float *MC_RESTRICT x, McRows rw,
                               const float *MC_RESTRICT k MC_S_PARAM) {
  for (int i = rw.lo; i < rw.hi; i++)
    MC_LANES(l) y[i * MC_S + l] = mc_lowpass(y[i * MC_S + l], x[i * MC_S + l], k[l]);
}

/* The spikes n neurons emit this step, thesis eqs. 2.17-2.19: the rate each has (in
 * rate_io, φ) becomes its spike count over ψ dt, n / (ψ dt), which is what its targets'
 * dendrites receive. ref: refractory countdowns (NULL: the inputs, Poisson generators,
 * never refractory). id0: the first neuron's id, a multiple of 4: neuron i draws word i % 4
 * of the block at (c0, c1, c2, (id0 + i) / 4), keyed by its lane's seed. The four neurons
 * of a block and the lanes run mc_poisson_count's recurrence side by side (the same
 * counts: tests/test_spiking.c). */
MC_HELPER void mc_emit(float *MC_RESTRICT rate_io, float *MC_RESTRICT ref, McRows rw, int id0,
                       McTick tk, const McLanes *k MC_S_PARAM) {
  const int n = rw.hi; /* rw.lo: a multiple of 4 (MC_TEAM_ALIGN) */
  enum { KMAX = 64 };  /* above mc_poisson_kmax(MC_POISSON_EXACT) = 58 */
  const int use_ref = ref != NULL && k->any_refractory;
  float counting[MC_LN]; /* 1: the lane counts spikes (no refractory period) */
  MC_LANES(l) counting[l] = (!use_ref | (k->refractory[l] == 0.0f)) ? 1.0f : 0.0f;
  for (int i0 = rw.lo; i0 < n; i0 += 4) {
    const int nq = n - i0 < 4 ? n - i0 : 4;
    float u[4][MC_LN], lam[4][MC_LN], p[4][MC_LN], r[4][MC_LN], cnt[4][MC_LN], kmax[4][MC_LN];
    MC_LANES(l) {
      philox4x32_ctr_t w = ap_rng_block(k->seed[l], tk.c0, tk.c1, tk.c2, (uint32_t)(id0 + i0) / 4u);
      for (int q = 0; q < 4; q++) u[q][l] = ap_u01_open(w.v[q]);
    }
    int normal[4]; /* whether some lane of the neuron takes its count from the normal */
    for (int q = 0; q < 4; q++) {
      const float *rate = rate_io + (size_t)(q < nq ? i0 + q : i0) * MC_S;
      int any = 0;
      MC_LANES_ANY(l, any) {
        float lm = mc_spike_mean(rate[l], k->psi_dt[l]), km = mc_poisson_kmax(lm);
        lam[q][l] = lm;
        p[q][l] = mc_exp_neg(lm);
        r[q][l] = u[q][l] - p[q][l];
        cnt[q][l] = 0.0f;
        /* 0: not by inversion (refractory, or a mean for the normal quantile); written
         * so that gcc vectorises it (counting is 0 or 1, and km finite where taken) */
        kmax[q][l] = lm <= MC_POISSON_EXACT ? km * counting[l] : 0.0f;
        any |= lm * counting[l] > MC_POISSON_EXACT;
      }
      normal[q] = any;
    }
    /* inversion: cnt = the last k with a remainder left, capped at kmax below (r only
     * falls), for k in blocks of four until no lane of a neuron has one left below its kmax */
    for (int k0 = 1; k0 <= KMAX; k0 += 4) {
      for (int kk = k0; kk < k0 + 4; kk++) {
        const float fk = (float)kk, inv_k = 1.0f / fk;
        for (int q = 0; q < 4; q++) MC_LANES(l) {
            cnt[q][l] = r[q][l] > 0.0f ? fk : cnt[q][l];
            p[q][l] = mc_poisson_next(p[q][l], lam[q][l], inv_k);
            r[q][l] -= p[q][l];
          }
      }
      const float next = (float)(k0 + 4);
      int more = 0;
      MC_LANES_ANY(l, more) {
        int m = 0;
        for (int q = 0; q < 4; q++) m |= (r[q][l] > 0.0f) & (next <= kmax[q][l]);
        more |= m;
      }
      if (!more) break;
    }
    for (int q = 0; q < nq; q++) {
      float *rate = rate_io + (size_t)(i0 + q) * MC_S;
      MC_LANES(l) cnt[q][l] = cnt[q][l] < kmax[q][l] ? cnt[q][l] : kmax[q][l];
      if (normal[q]) MC_LANES(l) {
          float c = mc_poisson_normal(lam[q][l], u[q][l]);
          cnt[q][l] = lam[q][l] * counting[l] > MC_POISSON_EXACT ? c : cnt[q][l];
        }
      if (use_ref) {
        float *rf = ref + (size_t)(i0 + q) * MC_S;
        MC_LANES(l) {
          float left = rf[l], c = mc_spike_refractory(lam[q][l], u[q][l], &left, k->n_ref[l]);
          int refr = k->refractory[l] != 0.0f;
          cnt[q][l] = refr ? c : cnt[q][l];
          rf[l] = refr ? left : rf[l];
        }
      }
      MC_LANES(l) rate[l] = cnt[q][l] * k->inv_psi_dt[l];
    }
  }
}

/* ---- the step ------------------------------------------------------------------------- */

#define MC_ST(b, off) ((b)->st + (size_t)(off)*MC_S)
#define MC_WK(b, off) ((b)->wk + (size_t)(off)*MC_S)

/* n rows of per-lane values from src to dst. */
MC_HELPER void mc_spikes_copy(float *MC_RESTRICT dst, const float *MC_RESTRICT src,
                              McRows rw MC_S_PARAM) {
  for (int i = rw.lo; i < rw.hi; i++) MC_LANES(l) dst[i * MC_S + l] = src[i * MC_S + l];
}

/* W_up's Urbanczik-Senn step of layer ly (mc_plastic, clipped to its w_max); fused
 * (McWork.fuse, one lane): kept pending, the rows' factors and the presynaptic factors,
 * for the next product or mc_body_flush to apply. The factors go to the buffer the step
 * does not read (pend_x[ly][1 - cur]: the next step's cur). */
MC_BODY_FN void mc_body_plastic_up(McBody *b, int ly, const float *err, const float *x_pre) {
  MC_S_FROM(b);
  const McWork *wo = b->wo;
  const McLanes *k = b->k;
  const int L = b->lay->dims.n_layers, n_pre = b->lay->dims.n[ly], n_pyr = b->lay->dims.n[ly + 1];
  const float *w_max = ly < L - 1 ? k->w_max_h : k->w_max_o;
  float *w_up = MC_ST(b, b->lay->layer[ly].w_up);
  if (!(MC_LN == 1 && wo->fuse)) {
    mc_plastic(w_up, k->c_up[ly], err, x_pre, w_max, 0, mc_rows(b, n_pyr), n_pre,
               b->wide_sum MC_S_ARG);
    return;
  }
  float *g = MC_WK(b, wo->pend_g[ly]), *x = MC_WK(b, wo->pend_x[ly][1 - b->cur]);
  MC_FOR_ROWS(b, i, n_pyr) MC_LANES(l) g[i * MC_S + l] = k->c_up[ly][l] * err[i * MC_S + l];
  MC_FOR_ROWS(b, j, n_pre) MC_LANES(l) x[j * MC_S + l] = x_pre[j * MC_S + l];
  b->pending |= 1 << ly;
}

/* Applies the pending W_up steps (fused), so that the state holds every weight; the team
 * meets afterwards. */
MC_BODY_FN void mc_body_flush(McBody *b) {
  MC_S_FROM(b);
  if (!b->pending) return;
  const McLanes *k = b->k;
  const int L = b->lay->dims.n_layers;
  for (int ly = 0; ly < L; ly++) {
    if (!(b->pending >> ly & 1)) continue;
    const float *w_max = ly < L - 1 ? k->w_max_h : k->w_max_o;
    const float one[MC_LN] = {1.0f}; /* the factors are c err already */
    mc_plastic(MC_ST(b, b->lay->layer[ly].w_up), one, MC_WK(b, b->wo->pend_g[ly]),
               MC_WK(b, b->wo->pend_x[ly][b->cur]), w_max, 0, mc_rows(b, b->lay->dims.n[ly + 1]),
               b->lay->dims.n[ly], b->wide_sum MC_S_ARG);
  }
  b->pending = 0;
  mc_sync(b);
}

/* poisson: the spikes in flight (buffer cur) into the state, where a checkpoint keeps them. */
MC_BODY_FN void mc_body_keep_spikes(McBody *b) {
  MC_S_FROM(b);
  const McLayout *lay = b->lay;
  const McWork *wo = b->wo;
  const float *rate = MC_WK(b, wo->rate[b->cur]);
  for (int ly = 0; ly < lay->dims.n_layers; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    mc_spikes_copy(MC_ST(b, o->sp_pyr), rate + (size_t)wo->rate_pyr[ly] * MC_S,
                   mc_rows(b, lay->dims.n[ly + 1]) MC_S_ARG);
    if (o->sp_inn >= 0)
      mc_spikes_copy(MC_ST(b, o->sp_inn), rate + (size_t)wo->rate_inn[ly] * MC_S,
                     mc_rows(b, lay->dims.n[ly + 2]) MC_S_ARG);
  }
}

/* Rates from the stored potentials: φ(u) (original) or φ(ŭ) (LE), into buffer cur; for
 * poisson neurons, the spikes the state keeps.
 * At the start of every run and after a reset; the step itself carries them forward
 * (the same numbers: a rate is a function of the potentials alone, and the records end
 * by keeping the spikes, mc_body_keep_spikes). */
MC_BODY_FN void mc_body_refresh(McBody *b) {
  MC_S_FROM(b);
  const McLayout *lay = b->lay;
  const McWork *wo = b->wo;
  const McLanes *k = b->k;
  float *rate = MC_WK(b, wo->rate[b->cur]);
  if (b->sch.spiking) { /* the spikes of the last step, kept in the state */
    for (int ly = 0; ly < lay->dims.n_layers; ly++) {
      const McLayerOffsets *o = &lay->layer[ly];
      mc_spikes_copy(rate + (size_t)wo->rate_pyr[ly] * MC_S, MC_ST(b, o->sp_pyr),
                     mc_rows(b, lay->dims.n[ly + 1]) MC_S_ARG);
      if (o->sp_inn >= 0)
        mc_spikes_copy(rate + (size_t)wo->rate_inn[ly] * MC_S, MC_ST(b, o->sp_inn),
                       mc_rows(b, lay->dims.n[ly + 2]) MC_S_ARG);
    }
    return;
  }
  for (int ly = 0; ly < lay->dims.n_layers; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    int offs[2] = {o->u_pyr, o->u_inn}, foffs[2] = {o->forw_pyr, o->forw_inn};
    int roffs[2] = {wo->rate_pyr[ly], wo->rate_inn[ly]};
    int n[2] = {lay->dims.n[ly + 1], o->u_inn >= 0 ? lay->dims.n[ly + 2] : 0};
    for (int pop = 0; pop < 2; pop++) {
      const float *u = MC_ST(b, offs[pop]), *f = MC_ST(b, foffs[pop]);
      float *r = rate + (size_t)roffs[pop] * MC_S;
      MC_FOR_ROWS(b, i, n[pop]) MC_LANES(l) {
        size_t x = (size_t)i * MC_S + (size_t)l;
        r[x] = mc_phi(mc_shown(k->le[l], u[x], f[x]), k->gamma[l], k->beta[l], k->theta[l]);
      }
    }
  }
}

/* What a hidden layer's self-prediction errors read (thesis §2.3): its apical potentials
 * va and the rates of its interneurons and of their sisters, this step's inputs. */
typedef struct McTrack {
  int ly, n_pyr, n_next;
  const float *va, *r_inn, *r_next;
} McTrack;

/* The team member that sums them (the whole warp of it in a team of warps). */
#ifndef MC_TRACKER_RANK
#define MC_TRACKER_RANK(b) 0
#endif

#if defined(__CUDA_ARCH__) && MC_LN == 1
/* mc_sum_squares' serial chain (i ascending, the same fmaf) by a whole warp: its lanes
 * load 128 values at once, then for each 32 of them that exist, lane t's value is handed
 * to every lane by a shuffle, all 32 shuffles issued before the chain's 32 fmaf, so the
 * chain waits on one memory round trip per 128 values and on one shuffle latency per 32,
 * not one per value. Every lane gets the sum. */
static __device__ __forceinline__ float mc_warp_sum_squares(const float *a, const float *bb,
                                                            int n MC_S_PARAM) {
  const unsigned all = 0xffffffffu;
  const int q = (int)(threadIdx.x & 31u);
  float acc = 0.0f;
  for (int i0 = 0; i0 < n; i0 += 128) {
    float v[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
      const int i = i0 + 32 * u + q;
      v[u] = i < n ? (bb ? a[(size_t)i * MC_S] - bb[(size_t)i * MC_S] : a[(size_t)i * MC_S]) : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
      const int base = i0 + 32 * u;
      if (base >= n) break; /* warp-uniform */
      float d[32];
#pragma unroll
      for (int t = 0; t < 32; t++) d[t] = __shfl_sync(all, v[u], t);
#pragma unroll
      for (int t = 0; t < 32; t++)
        if (base + t < n) acc = fmaf(d[t], d[t], acc);
    }
  }
  return acc;
}
#endif

/* Adds a hidden layer's self-prediction errors of this step to the record's sums (the
 * tracker's: MC_TRACKER_RANK). */
MC_BODY_FN void mc_body_track(McBody *b, const McTrack *tr) {
  MC_S_FROM(b);
  float api[MC_LN], inn[MC_LN];
  const int tracker = b->team <= 1 || b->rank == MC_TRACKER_RANK(b);
#if defined(__CUDA_ARCH__) && MC_LN == 1
  if (b->team > 1 && b->wide_sum == MC_WIDE_WARP) { /* the tracker's warp */
    if (b->rank / 32 != MC_TRACKER_RANK(b) / 32) return;
    api[0] = mc_warp_sum_squares(tr->va, NULL, tr->n_pyr MC_S_ARG);
    inn[0] = mc_warp_sum_squares(tr->r_inn, tr->r_next, tr->n_next MC_S_ARG);
  } else
#endif
  {
    if (!tracker) return;
    mc_sum_squares(api, tr->va, NULL, tr->n_pyr MC_S_ARG);
    mc_sum_squares(inn, tr->r_inn, tr->r_next, tr->n_next MC_S_ARG);
  }
  if (!tracker) return;
  const int H = b->lay->dims.n_layers - 1;
  float *api_sum = MC_ST(b, b->lay->sums + MC_SUM_API + tr->ly),
        *inn_sum = MC_ST(b, b->lay->sums + MC_SUM_API + H + tr->ly);
  MC_LANES(l) {
    api_sum[l] += sqrtf(api[l]);
    inn_sum[l] += inn[l] / (float)tr->n_next;
  }
}

/* Whether a team's step ends without meeting ("open"): with a hidden layer and W_up's
 * steps fused, everything a member writes after the output layer's barrier is its own
 * rows (its output rows, its rows of the inputs' and traces' low-pass, of the sisters'
 * copies and of the pending W_up factors), and everything the others read of it is read
 * after the next step's first barrier, except the nudging flag (written after that
 * barrier, mc_body_step) and the readout (read after the sample's last step, which meets:
 * mc_body_sample). One barrier fewer per step. */
MC_BODY_FN int mc_step_open(const McBody *b) {
  return MC_LN == 1 && b->wo->fuse && b->team > 1 && b->lay->dims.n_layers >= 2;
}

/* One time step of every lane, MODELS.md §1 "Order of one step". Every layer's update
 * reads only the previous step's rates (buffer cur) and potentials; the one potential read
 * across layers (the interneurons' sister) is copied out before any layer moves.
 * A team (McBody.rank) meets at four kinds of points: after the inputs (every product
 * reads all of them), before each further layer (the work vectors are reused), before
 * the tracker sums the self-prediction errors of a hidden layer followed by another
 * hidden layer (those of the last hidden layer wait for the output layer's barrier),
 * and at the step's end (the next step reads all rates) unless the step is open
 * (mc_step_open: the next step's first barrier covers it). Interneurons have their own
 * udot and err rows, so their rows and the pyramids' can be split differently. */
MC_BODY_FN void mc_body_step(McBody *b, int learn, float nudge_now, int step_in_sample, int track,
                             McTick tk) {
  MC_S_FROM(b);
  const McLayout *lay = b->lay;
  const McWork *wo = b->wo;
  const McLanes *k = b->k;
  const McDims *d = &lay->dims;
  const int L = d->n_layers, m = wo->max_neurons;
  const float *rate = MC_WK(b, wo->rate[b->cur]);
  float *rate_new = MC_WK(b, wo->rate[1 - b->cur]);
  float *v_bas = MC_WK(b, wo->v_bas), *v_api = MC_WK(b, wo->v_api), *v_den = MC_WK(b, wo->v_den);
  float *v_tmp = MC_WK(b, wo->v_tmp), *udot = MC_WK(b, wo->udot), *err = MC_WK(b, wo->err);
  float *udot_inn = MC_WK(b, wo->udot_inn), *err_inn = MC_WK(b, wo->err_inn);
  McTrack deferred = {.ly = -1}; /* none */

  /* 1. inputs and targets */
  float *r_in = MC_ST(b, lay->r_in), *u_tgt = MC_ST(b, lay->u_tgt);
  const float *x = MC_WK(b, wo->x), *tgt = MC_WK(b, wo->tgt);
  const McRows rows_in = mc_rows(b, d->n[0]), rows_out = mc_rows(b, d->n[L]);
  for (int i = rows_in.lo; i < rows_in.hi; i++)
    MC_LANES(l) r_in[i * MC_S + l] = mc_lowpass(r_in[i * MC_S + l], x[i * MC_S + l], k->k_in[l]);
  for (int i = rows_out.lo; i < rows_out.hi; i++) MC_LANES(l)
  u_tgt[i * MC_S + l] = mc_lowpass(u_tgt[i * MC_S + l], tgt[i * MC_S + l], k->k_in[l]);

  /* poisson: the inputs spike (Poisson generators at ψ r_in), and every presynaptic trace
   * takes in the spikes that reach it this step: the inputs' of this step, the neurons'
   * of the previous one (thesis eq. 2.29, s* = κ_s * s, normalised by ψ) */
  const int spk = b->sch.spiking;
  const float *r_in_sent = r_in;
  if (spk) {
    float *rho_in = MC_WK(b, wo->rho_in);
    for (int i = rows_in.lo; i < rows_in.hi; i++)
      MC_LANES(l) rho_in[i * MC_S + l] = r_in[i * MC_S + l];
    mc_emit(rho_in, NULL, rows_in, lay->id_in, tk, k MC_S_ARG);
    mc_lowpass_rows(MC_ST(b, lay->tr_in), rho_in, rows_in, k->k_s MC_S_ARG);
    for (int ly = 0; ly < L; ly++) {
      const McLayerOffsets *o = &lay->layer[ly];
      mc_lowpass_rows(MC_ST(b, o->tr_pyr), rate + (size_t)wo->rate_pyr[ly] * MC_S,
                      mc_rows(b, d->n[ly + 1]), k->k_s MC_S_ARG);
      if (ly < L - 1)
        mc_lowpass_rows(MC_ST(b, o->tr_inn), rate + (size_t)wo->rate_inn[ly] * MC_S,
                        mc_rows(b, d->n[ly + 2]), k->k_s MC_S_ARG);
    }
    r_in_sent = rho_in;
  }

  /* 2. the sisters' potentials the interneurons are nudged towards (u, or ŭ under LE) */
  for (int ly = 0; ly < L - 1; ly++) {
    const McLayerOffsets *on = &lay->layer[ly + 1];
    const float *u_n = MC_ST(b, on->u_pyr), *f_n = MC_ST(b, on->forw_pyr);
    float *u_next = MC_WK(b, wo->u_next + ly * m);
    MC_FOR_ROWS(b, i, d->n[ly + 2])
    MC_LANES(l) u_next[i * MC_S + l] = mc_shown(k->le[l], u_n[i * MC_S + l], f_n[i * MC_S + l]);
  }
  mc_sync(b);
  /* an open step (mc_step_open): the last step's nudging flag, read by the output layer
   * after the next barrier and by nobody before it (the first step of a sample finds the
   * last sample's, mc_body_sample) */
  const int open = mc_step_open(b);
  if (open && step_in_sample > 0 && mc_lead(b)) {
    float *nudge_last = MC_ST(b, lay->nudge_last);
    MC_LANES(l) nudge_last[l] = nudge_now;
  }

  /* 3. update and apply, layer by layer */
  for (int ly = 0; ly < L; ly++) {
    if (ly > 0) mc_sync(b);
    if (deferred.ly >= 0) mc_body_track(b, &deferred);
    deferred.ly = -1;
    const McLayerOffsets *o = &lay->layer[ly];
    int n_pre = d->n[ly], n_pyr = d->n[ly + 1];
    const McRows rows_pyr = mc_rows(b, n_pyr);
    const float *r_below = ly == 0 ? r_in_sent : rate + (size_t)wo->rate_pyr[ly - 1] * MC_S;
    const float *r_pyr = rate + (size_t)wo->rate_pyr[ly] * MC_S;
    /* the presynaptic factors of the plasticity: the rates, or (poisson) the traces */
    const float *x_below = !spk      ? r_below
                           : ly == 0 ? MC_ST(b, lay->tr_in)
                                     : MC_ST(b, lay->layer[ly - 1].tr_pyr);
    const float *x_pyr = spk ? MC_ST(b, o->tr_pyr) : r_pyr;
    float *w_up = MC_ST(b, o->w_up), *u = MC_ST(b, o->u_pyr), *forw = MC_ST(b, o->forw_pyr);
    /* fused (one lane): W_up's step of the last step happens inside this product */
    const int fuse = MC_LN == 1 && wo->fuse;
    const float *w_max_up = ly < L - 1 ? k->w_max_h : k->w_max_o;
    const int pend = fuse && (b->pending >> ly & 1);
    mc_matvec(v_bas, w_up, r_below, rows_pyr, n_pre, b->wide_sum,
              pend ? MC_WK(b, wo->pend_g[ly]) : NULL, MC_WK(b, wo->pend_x[ly][b->cur]),
              w_max_up MC_S_ARG);
    b->pending &= ~(1 << ly);
    float *vb = v_bas; /* the basal dendrites: W r, or (poisson) its leaky integral */
    if (spk) {
      vb = MC_ST(b, o->vb_pyr);
      mc_lowpass_rows(vb, v_bas, rows_pyr, k->k_d MC_S_ARG);
    }

    if (ly < L - 1) { /* hidden layer: pyramids with apical dendrites, interneurons */
      int n_next = d->n[ly + 2];
      const McRows rows_inn = mc_rows(b, n_next);
      const float *r_inn = rate + (size_t)wo->rate_inn[ly] * MC_S;
      const float *r_next = rate + (size_t)wo->rate_pyr[ly + 1] * MC_S;
      const float *u_next = MC_WK(b, wo->u_next + ly * m);
      float *w_down = MC_ST(b, o->w_down), *w_pi = MC_ST(b, o->w_pi), *w_ip = MC_ST(b, o->w_ip);
      float *ui = MC_ST(b, o->u_inn), *fi = MC_ST(b, o->forw_inn);
      const float *x_inn = spk ? MC_ST(b, o->tr_inn) : r_inn;
      mc_matvec(v_api, w_down, r_next, rows_pyr, n_next, b->wide_sum, NULL, NULL, NULL MC_S_ARG);
      mc_matvec(v_tmp, w_pi, r_inn, rows_pyr, n_next, b->wide_sum, NULL, NULL, NULL MC_S_ARG);
      for (int i = rows_pyr.lo; i < rows_pyr.hi; i++)
        MC_LANES(l) v_api[i * MC_S + l] += v_tmp[i * MC_S + l];
      mc_matvec(v_den, w_ip, r_pyr, rows_inn, n_pyr, b->wide_sum, NULL, NULL, NULL MC_S_ARG);
      float *va = v_api, *vd = v_den; /* apical and interneuron dendrites, leaky if poisson */
      if (spk) {
        va = MC_ST(b, o->va_pyr);
        vd = MC_ST(b, o->vd_inn);
        mc_lowpass_rows(va, v_api, rows_pyr, k->k_d MC_S_ARG);
        mc_lowpass_rows(vd, v_den, rows_inn, k->k_d MC_S_ARG);
      }

      if (track) { /* self-prediction errors of the layer (thesis §2.3) */
        const McTrack tr = {
            .ly = ly, .n_pyr = n_pyr, .n_next = n_next, .va = va, .r_inn = r_inn, .r_next = r_next};
        if (ly == L - 2 && b->team > 1) {
          /* the last hidden layer's: at the output layer's barrier (the output layer
           * writes none of va, r_inn, r_next), which saves the team a barrier */
          deferred = tr;
        } else {
          mc_sync(b);
          mc_body_track(b, &tr);
        }
      }

      /* interneurons, nudged by their sisters */
      for (int i = rows_inn.lo; i < rows_inn.hi; i++) MC_LANES(l) {
          size_t q = (size_t)i * MC_S + (size_t)l;
          udot_inn[q] =
              mc_interneuron_udot(ui[q], vd[q], u_next[q], k->gb[l], k->gsom[l], k->g_inn[l]);
        }
      float *sent_inn = rate_new + (size_t)wo->rate_inn[ly] * MC_S;
      mc_somas(ui, fi, sent_inn, err_inn, udot_inn, vd, k->alpha_inn, k->tau_inn, rows_inn, learn,
               k MC_S_ARG);
      if (spk) mc_emit(sent_inn, MC_ST(b, o->ref_inn), rows_inn, lay->id_inn[ly], tk, k MC_S_ARG);
      if (learn && k->ip_mode[ly] != MC_PLASTIC_NONE)
        mc_plastic(w_ip, k->c_ip[ly], err_inn, x_pyr, NULL, k->ip_mode[ly] == MC_PLASTIC_SOME,
                   rows_inn, n_pyr, b->wide_sum MC_S_ARG);

      /* pyramids: basal and apical dendrites */
      for (int i = rows_pyr.lo; i < rows_pyr.hi; i++) MC_LANES(l) {
          size_t q = (size_t)i * MC_S + (size_t)l;
          udot[q] = mc_pyramid_udot(u[q], vb[q], va[q], k->gb[l], k->ga[l], k->g_pyr[l]);
        }
      float *sent = rate_new + (size_t)wo->rate_pyr[ly] * MC_S;
      mc_somas(u, forw, sent, err, udot, vb, k->alpha_pyr, k->tau_pyr, rows_pyr, learn, k MC_S_ARG);
      if (spk) mc_emit(sent, MC_ST(b, o->ref_pyr), rows_pyr, lay->id_pyr[ly], tk, k MC_S_ARG);
      if (learn) {
        mc_body_plastic_up(b, ly, err, x_below);
        if (k->pi_mode[ly] != MC_PLASTIC_NONE) {
          for (int i = rows_pyr.lo; i < rows_pyr.hi; i++)
            MC_LANES(l) v_tmp[i * MC_S + l] = -va[i * MC_S + l]; /* eq. 2.15 */
          mc_plastic(w_pi, k->c_pi[ly], v_tmp, x_inn, NULL, k->pi_mode[ly] == MC_PLASTIC_SOME,
                     rows_pyr, n_next, b->wide_sum MC_S_ARG);
        }
      }
    } else { /* output layer: basal dendrite and the target nudging the soma */
      const float *tgt_last = MC_ST(b, lay->u_tgt_last), *nudge_last = MC_ST(b, lay->nudge_last);
      float *acc = MC_WK(b, wo->acc);
      for (int i = rows_pyr.lo; i < rows_pyr.hi; i++) MC_LANES(l) {
          size_t q = (size_t)i * MC_S + (size_t)l;
          udot[q] = mc_output_udot(u[q], vb[q], mc_le_delayed(k->le[l], nudge_last[l], nudge_now),
                                   mc_le_delayed(k->le[l], tgt_last[q], u_tgt[q]), k->gb[l],
                                   k->gsom[l], k->g_out[l], k->g_free[l]);
        }
      float *sent = rate_new + (size_t)wo->rate_pyr[ly] * MC_S;
      mc_somas(u, forw, sent, err, udot, vb, k->alpha_out, k->tau_out, rows_pyr, learn, k MC_S_ARG);
      if (spk) mc_emit(sent, MC_ST(b, o->ref_pyr), rows_pyr, lay->id_pyr[ly], tk, k MC_S_ARG);
      if (learn) mc_body_plastic_up(b, ly, err, x_below);
      /* 4. readout: mean of u (ŭ under LE) from out_lag on */
      for (int i = rows_pyr.lo; i < rows_pyr.hi; i++) MC_LANES(l) {
          size_t q = (size_t)i * MC_S + (size_t)l;
          acc[q] = mc_readout(acc[q], (float)step_in_sample, k->lag[l],
                              mc_shown(k->le[l], u[q], forw[q]), k->readout_n[l]);
        }
    }
  }

  /* the LE delay line for the target and the nudging flag (the output rows are split as
   * in the output layer, so a member delays only the targets it has read) */
  float *tgt_last = MC_ST(b, lay->u_tgt_last), *nudge_last = MC_ST(b, lay->nudge_last);
  for (int i = rows_out.lo; i < rows_out.hi; i++)
    MC_LANES(l) tgt_last[i * MC_S + l] = u_tgt[i * MC_S + l];
  if (!open) {
    mc_sync(b);
    if (mc_lead(b)) MC_LANES(l) nudge_last[l] = nudge_now;
  }
  b->cur = 1 - b->cur;
}

/* ---- the schedule ----------------------------------------------------------------------- */

/* Zeroes the fields a reset clears (the potentials; MC_LAYER_FIELDS' reset column). */
MC_BODY_FN void mc_body_reset(McBody *b) {
  MC_S_FROM(b);
  const McLayout *lay = b->lay;
  const McDims *d = &lay->dims;
  for (int ly = 0; ly < d->n_layers; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    int n_pre = d->n[ly], n_pyr = d->n[ly + 1], n_next = ly + 2 <= d->n_layers ? d->n[ly + 2] : 0;
    (void)n_pre;
#define MC_RESET(member, label, rows, cols, kind, hidden_only, reset, help)                        \
  if ((reset) && o->member >= 0) {                                                                 \
    float *f = MC_ST(b, o->member);                                                                \
    MC_FOR_ROWS(b, i, (rows) * ((cols) > 0 ? (cols) : 1)) MC_LANES(l) f[i * MC_S + l] = 0.0f;      \
  }
    MC_LAYER_FIELDS(MC_RESET)
#undef MC_RESET
  }
}

/* Presents one sample to every lane (lane l sees sample idx[l] of xs, ys) for t_pres
 * steps; per lane, whether the readout's argmax hit the class and its squared error
 * against the target potentials (every member of a team gets them). */
MC_BODY_FN void mc_body_sample(McBody *b, const float *xs, const int *ys, const uint32_t *idx,
                               int learn, int nudge, int track, McTick tk, float *hit,
                               float *sq_err) {
  MC_S_FROM(b);
  const McDims *d = &b->lay->dims;
  const McLanes *k = b->k;
  int n_in = d->n[0], n_out = d->n[d->n_layers];
  float *x = MC_WK(b, b->wo->x), *tgt = MC_WK(b, b->wo->tgt), *acc = MC_WK(b, b->wo->acc);
  const McRows rows_in = mc_rows(b, n_in), rows_out = mc_rows(b, n_out);
  mc_sync(b); /* every member has read the last sample's readout */
  for (int l = 0; l < MC_LN; l++) {
    const float *xl = xs + (size_t)idx[l] * (size_t)n_in;
    for (int i = rows_in.lo; i < rows_in.hi; i++) x[i * MC_S + l] = xl[i];
    for (int i = rows_out.lo; i < rows_out.hi; i++) {
      tgt[i * MC_S + l] = i == ys[idx[l]] ? k->u_high[l] : k->u_low[l];
      acc[i * MC_S + l] = 0.0f;
    }
  }
  if (b->sch.reset) {
    mc_body_reset(b);
    if (!b->sch.spiking) mc_body_refresh(b); /* spikes already sent stay in flight */
  }
  for (int t = 0; t < b->sch.t_pres; t++, tk.c2++)
    mc_body_step(b, learn && t >= b->sch.learn_lag, nudge ? 1.0f : 0.0f, t, track, tk);
  if (mc_step_open(b) && b->sch.t_pres > 0) { /* the steps left the team apart */
    mc_sync(b);
    if (mc_lead(b)) MC_ST(b, b->lay->nudge_last)[0] = nudge ? 1.0f : 0.0f;
  }
  for (int l = 0; l < MC_LN; l++) {
    int best = 0;
    float e = 0.0f;
    for (int i = 0; i < n_out; i++) {
      float a = acc[i * MC_S + l], t = tgt[i * MC_S + l];
      if (a > acc[best * MC_S + l]) best = i;
      e += (a - t) * (a - t);
    }
    hit[l] = best == ys[idx[l]] ? 1.0f : 0.0f;
    sq_err[l] = e;
  }
}

/* The series of record e of the frozen lanes (diverged != 0): NaN, and the flag. */
MC_BODY_FN void mc_body_frozen_series(const McBody *b, int e, const McOut *out) {
  MC_S_FROM(b);
  if (!mc_lead(b)) return;
  const McSeriesOffsets *so = &b->lay->ser;
  const float *diverged = MC_ST(b, b->lay->diverged);
  for (int l = 0; l < out->n_real; l++) {
    if (diverged[l] == 0.0f) continue;
    float *o = out->base + (size_t)(out->rows ? out->rows[l] : l) * out->row_stride +
               (size_t)(e - out->col0) * (size_t)out->width;
    for (int i = 0; i < out->width; i++) o[i] = NAN;
    o[so->diverged] = 1.0f;
  }
}

/* What a test phase changes (McLayout.kept_run), into record/kept (back = 0) or back from
 * it, leaving record/kept zero (back = 1), split over the team. */
MC_BODY_FN void mc_body_kept(const McBody *b, int back) {
  MC_S_FROM(b);
  const McLayout *lay = b->lay;
  float *kept = MC_ST(b, lay->kept);
  for (int q = 0; q < lay->n_kept_runs; kept += (size_t)lay->kept_run[q++][1] * MC_S) {
    float *run = MC_ST(b, lay->kept_run[q][0]);
    MC_FOR_ROWS(b, i, lay->kept_run[q][1]) MC_LANES(l) {
      size_t x = (size_t)i * MC_S + (size_t)l;
      if (back) {
        run[x] = kept[x];
        kept[x] = 0.0f;
      } else
        kept[x] = run[x];
    }
  }
}

/* Held-out samples [i0, i1) with teacher and plasticity off, sample i the i-th of each
 * lane's order in perm (ordered) or of the file; the lead adds each lane's hits and
 * squared errors to hits and sq (lane rows). c0: the spike draws' phase
 * (mc_body_records' McTick). */
MC_BODY_FN void mc_body_held_out(McBody *b, int i0, int i1, int ordered, uint32_t c0, int e,
                                 float *hits, float *sq) {
  MC_S_FROM(b);
  uint32_t idx[MC_LN];
  float hit[MC_LN], err[MC_LN];
  for (int i = i0; i < i1; i++) {
    for (int l = 0; l < MC_LN; l++)
      idx[l] = ordered ? b->perm[(size_t)i * MC_S + (size_t)l] : (uint32_t)i;
    McTick tk = {c0, (uint32_t)e, (uint32_t)i * (uint32_t)b->sch.t_pres};
    mc_body_sample(b, b->data->x_val, b->data->y_val, idx, 0, 0, 0, tk, hit, err);
    if (mc_lead(b)) MC_LANES(l) {
        hits[l] += hit[l];
        sq[l] += err[l];
      }
  }
}

/* The weight errors of hidden layer h of the self-predicting state (thesis §2.3), per
 * lane: the sums over its count = n[h+2] n[h+1] weights of (W_ip - ρ W_up)² (ff) and of
 * (W_pi + W_down)² (fb), in double, each term exact. Partial sum q takes the weights
 * i with i % 64 = q, i ascending, and the 64 partials add up in mc_matvec's tree, so that
 * a warp can sum them: in a team of warps (McBody.wide_sum MC_WIDE_WARP) the lead's warp
 * calls this, lane q holding partials q and q + 32, and lane 0 gets the sums; the same
 * order, the same bits. */
MC_BODY_FN void mc_body_weight_errors(const McBody *b, int h, double *ff, double *fb) {
  MC_S_FROM(b);
  const McLayout *lay = b->lay;
  const McLayerOffsets *oh = &lay->layer[h], *on = &lay->layer[h + 1];
  const int count = lay->dims.n[h + 2] * lay->dims.n[h + 1];
  const float *w_ip = MC_ST(b, oh->w_ip), *w_up = MC_ST(b, on->w_up);
  const float *w_pi = MC_ST(b, oh->w_pi), *w_dn = MC_ST(b, oh->w_down);
  const float *rho = b->k->rho[h];
#define MC_WEIGHT_TERMS(i, l, pf, pb)                                                              \
  do {                                                                                             \
    size_t x_ = (size_t)(i)*MC_S + (size_t)(l);                                                    \
    float a_ = w_ip[x_] - rho[l] * w_up[x_], c_ = w_pi[x_] + w_dn[x_];                             \
    pf += (double)a_ * (double)a_;                                                                 \
    pb += (double)c_ * (double)c_;                                                                 \
  } while (0)
#if defined(__CUDA_ARCH__) && MC_LN == 1
  if (b->wide_sum == MC_WIDE_WARP) {
    const unsigned all = 0xffffffffu;
    const int q = (int)(threadIdx.x & 31u);
    double f0 = 0.0, f1 = 0.0, c0 = 0.0, c1 = 0.0;
    for (int i = q; i < count; i += MC_WIDE_PARTIALS) MC_WEIGHT_TERMS(i, 0, f0, c0);
    for (int i = q + 32; i < count; i += MC_WIDE_PARTIALS) MC_WEIGHT_TERMS(i, 0, f1, c1);
    f0 += f1;
    c0 += c1;
    for (int hh = 16; hh >= 1; hh >>= 1) {
      f0 += __shfl_down_sync(all, f0, (unsigned)hh);
      c0 += __shfl_down_sync(all, c0, (unsigned)hh);
    }
    ff[0] = f0;
    fb[0] = c0;
    return;
  }
#endif
  double pf[MC_WIDE_PARTIALS][MC_LN], pb[MC_WIDE_PARTIALS][MC_LN];
  for (int q = 0; q < MC_WIDE_PARTIALS; q++) MC_LANES(l) pf[q][l] = pb[q][l] = 0.0;
  for (int i = 0; i < count; i++) {
    const int q = i % MC_WIDE_PARTIALS;
    MC_LANES(l) MC_WEIGHT_TERMS(i, l, pf[q][l], pb[q][l]);
  }
#undef MC_WEIGHT_TERMS
  for (int hh = MC_WIDE_PARTIALS / 2; hh >= 1; hh >>= 1)
    for (int q = 0; q < hh; q++) MC_LANES(l) {
        pf[q][l] += pf[q + hh][l];
        pb[q][l] += pb[q + hh][l];
      }
  MC_LANES(l) {
    ff[l] = pf[0][l];
    fb[l] = pb[0][l];
  }
}

/* The lead draws every lane's order of n samples for phase ph of record e into perm. */
MC_BODY_FN void mc_body_order(McBody *b, int n, int e, int ph) {
  MC_S_FROM(b);
  mc_sync(b); /* nobody still reads the last order */
  if (mc_lead(b))
    for (int l = 0; l < MC_LN; l++)
      ap_sample_order(b->perm + l, MC_S, (uint32_t)n, b->k->seed[l], (uint32_t)e, (uint32_t)ph);
  mc_sync(b);
}

/* Every lane from `from` to `to` (in samples, mc_units; ApModelImpl.run): a record
 * (epoch) shows the training samples in a fresh order per lane with teacher and
 * plasticity as scheduled, then the validation samples with both off; a test phase
 * (mc_test_due) then shows every held-out sample in file order with teacher and
 * plasticity off, from the state it then returns to (record/kept): testing never changes
 * what a replica learns. Its last sample writes the record's series (MODELS.md §1; the
 * self-prediction errors, thesis §2.3). Whatever a record carries between samples is in
 * the state (record/sums, record/kept, the spikes in flight, no W_up step pending), so
 * that a run may stop after any sample. */
MC_BODY_FN void mc_body_records(McBody *b, ApPos from, ApPos to, const McOut *out) {
  MC_S_FROM(b);
  const ApData *data = b->data;
  const McSched *sch = &b->sch;
  const McLayout *lay = b->lay;
  const McSeriesOffsets *so = &lay->ser;
  int H = lay->dims.n_layers - 1, n_out = lay->dims.n[lay->dims.n_layers];
  const long long n_tr = data->n_train, t0 = n_tr + sch->n_val, U = mc_units(sch, data->n_train);
  uint32_t idx[MC_LN];
  float hit[MC_LN], err[MC_LN];
  float *diverged = MC_ST(b, lay->diverged), *sums = MC_ST(b, lay->sums);
  const size_t nf = (size_t)lay->n_floats;
  mc_body_refresh(b);
  for (int e = from.record; e <= ap_last_record(to); e++) {
    long long u0, u1;
    ap_part(from, to, U, e, &u0, &u1);
    const int ends = u1 == U;
    mc_sync(b); /* the last record's flags and series are written */
    /* A replica frozen at its first non-finite state (its flag set at the end of an
     * earlier record) keeps that state: its lanes run along with the others, which do not
     * depend on them, and get their state back afterwards; alone, it skips the record. */
    int n_frozen = 0;
    for (int l = 0; l < MC_LN; l++) n_frozen += diverged[l] != 0.0f;
    if (n_frozen == MC_LN || (n_frozen && !b->frozen)) {
      if (ends) mc_body_frozen_series(b, e, out);
      continue;
    }
    if (n_frozen)
      for (size_t i = 0; i < nf; i++)
        MC_LANES(l) if (diverged[l] != 0.0f) b->frozen[i * MC_S + l] = b->st[i * MC_S + l];
    if (u0 == 0 && mc_lead(b))
      for (int q = 0; q < MC_SUM_API + 2 * H; q++) MC_LANES(l) sums[q * MC_S + l] = 0.0f;
    if (u0 < n_tr) {
      mc_body_order(b, data->n_train, e, 0);
      for (long long i = u0; i < n_tr && i < u1; i++) {
        for (int l = 0; l < MC_LN; l++) idx[l] = b->perm[(size_t)i * MC_S + (size_t)l];
        McTick tk = {AP_RNG_SPIKES, (uint32_t)e, (uint32_t)i * (uint32_t)sch->t_pres};
        mc_body_sample(b, data->x_train, data->y_train, idx, sch->learn, sch->teacher, 1, tk, hit,
                       err);
        if (mc_lead(b)) MC_LANES(l) sums[MC_SUM_TRAIN * MC_S + l] += hit[l];
      }
    }
    if (sch->n_val > 0 && u0 < t0 && u1 > n_tr) {
      mc_body_order(b, data->n_val, e, 1);
      mc_body_held_out(b, (int)(u0 > n_tr ? u0 - n_tr : 0), (int)((u1 < t0 ? u1 : t0) - n_tr), 1,
                       AP_RNG_SPIKES + 16, e, sums + MC_SUM_VAL * MC_S,
                       sums + MC_SUM_VAL_ERR * MC_S);
    }
    mc_body_flush(b);
    const int test = mc_test_due(sch, e);
    if (test && u1 > t0) {
      if (u0 <= t0) { /* the test starts: the state to return to, with the spikes in flight */
        if (sch->spiking) mc_body_keep_spikes(b);
        mc_sync(b); /* the copy's rows are not the neurons' */
        mc_body_kept(b, 0);
        mc_sync(b);
      }
      mc_body_held_out(b, (int)((u0 > t0 ? u0 : t0) - t0), (int)(u1 - t0), 0, AP_RNG_SPIKES + 32, e,
                       sums + MC_SUM_TEST * MC_S, sums + MC_SUM_TEST_ERR * MC_S);
      if (ends) {
        mc_sync(b);
        mc_body_kept(b, 1);
        mc_sync(b);
        mc_body_refresh(b);
      }
    }
    if (!ends) { /* stopped inside the record: the spikes in flight into the state */
      if (sch->spiking) mc_body_keep_spikes(b);
      if (n_frozen)
        for (size_t i = 0; i < nf; i++)
          MC_LANES(l) if (diverged[l] != 0.0f) b->st[i * MC_S + l] = b->frozen[i * MC_S + l];
      break; /* the part's last record */
    }
    mc_sync(b); /* the lead reads every weight */
    double ff[MC_MAX_LAYERS][MC_LN], fb[MC_MAX_LAYERS][MC_LN];
    if (mc_lead(b) || (b->wide_sum == MC_WIDE_WARP && b->rank < 32)) /* the lead's warp */
      for (int h = 0; h < H; h++) mc_body_weight_errors(b, h, ff[h], fb[h]);
    float steps = (float)data->n_train * (float)sch->t_pres;
    for (int l = 0; l < out->n_real && mc_lead(b); l++) {
      float *o = out->base + (size_t)(out->rows ? out->rows[l] : l) * out->row_stride +
                 (size_t)(e - out->col0) * (size_t)out->width;
      const float *sl = sums + l;
      o[so->train_acc] = sl[MC_SUM_TRAIN * MC_S] / (float)data->n_train;
      o[so->val_acc] = sch->n_val > 0 ? sl[MC_SUM_VAL * MC_S] / (float)sch->n_val : NAN;
      o[so->val_mse] =
          sch->n_val > 0 ? sl[MC_SUM_VAL_ERR * MC_S] / ((float)sch->n_val * (float)n_out) : NAN;
      o[so->test_acc] = test ? sl[MC_SUM_TEST * MC_S] / (float)sch->n_test : NAN;
      o[so->test_mse] =
          test ? sl[MC_SUM_TEST_ERR * MC_S] / ((float)sch->n_test * (float)n_out) : NAN;
      for (int h = 0; h < H; h++) {
        o[so->api_err + h] = sl[(MC_SUM_API + h) * MC_S] / steps;
        o[so->inn_err + h] = sl[(MC_SUM_API + H + h) * MC_S] / steps;
        /* the weight errors of the self-predicting state at the end of the epoch */
        int count = lay->dims.n[h + 2] * lay->dims.n[h + 1];
        o[so->ff_err + h] = (float)(ff[h][l] / count);
        o[so->fb_err + h] = (float)(fb[h][l] / count);
      }
      o[so->diverged] = 0.0f;
    }
    if (mc_lead(b)) /* record/sums is zero between records */
      for (int q = 0; q < MC_SUM_API + 2 * H; q++) MC_LANES(l) sums[q * MC_S + l] = 0.0f;
    if (sch->spiking) mc_body_keep_spikes(b);
    if (n_frozen) {
      for (size_t i = 0; i < nf; i++)
        MC_LANES(l) if (diverged[l] != 0.0f) b->st[i * MC_S + l] = b->frozen[i * MC_S + l];
      mc_body_frozen_series(b, e, out);
    }
    mc_sync(b); /* the whole state is written */
    /* the replicas whose state turned non-finite in this record freeze here */
    int bad[MC_LN];
    MC_LANES(l) bad[l] = 0;
#ifdef MC_LEAD_ANY /* the includer's vote: each member of a team scans its rows */
    if (b->team > 1) {
      int mine = 0;
      MC_FOR_ROWS(b, i, (int)nf) mine |= !isfinite(b->st[(size_t)i * MC_S]);
      bad[0] = MC_LEAD_ANY(b, mine); /* the lead's answer (a team has one lane) */
    } else
#endif
        if (mc_lead(b))
      for (size_t i = 0; i < nf; i++) MC_LANES(l) bad[l] |= !isfinite(b->st[i * MC_S + l]);
    if (!mc_lead(b)) continue;
    int any = 0;
    for (int l = 0; l < MC_LN; l++)
      if (bad[l] && diverged[l] == 0.0f) {
        diverged[l] = (float)(e + 1);
        any = 1;
      }
    if (any) mc_body_frozen_series(b, e, out);
  }
  mc_sync(b);
}

#endif
