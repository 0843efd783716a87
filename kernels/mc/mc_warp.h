/* A faster version of the microcircuit's step for the GPU: one replica per warp. Lane i
 * is hidden pyramid i, lane k is also interneuron k and output neuron k. Every weight and
 * every potential lives in its lane's registers for a whole launch; the constants too. A
 * step reads no device memory (the sample's input is read once per sample) and shuffles
 * nothing: the lanes exchange what they need through a small shared scratch (MW_SH_*).
 * The step is bound by the latency of its dependent chains, not by throughput: the layout
 * spreads work over the lanes (each hidden lane steps its share of every weight matrix)
 * rather than leaving it to lanes 0-2, and independent chains are written side by side
 * (ap_math.h's AP_SIDE: the step's 72 φ in one round of six per lane, the clips, the
 * low-pass), because a warp issues its instructions in order and a chain written after
 * another waits out each of its latencies.
 * For one hidden layer of at most 32 neurons and at most 4 outputs; sizes fixed at
 * compile time: MW0-MW1-MW2 (9-30-3, Bars).
 *
 * A version in the llm.c sense: mc_body.h is the specification, and tests/test_warp.c
 * holds this code to it bit for bit (the arithmetic and its order are the body's: sums
 * over the presynaptic index ascending, fmaf where it uses fmaf, the neuron types of
 * mc_equations.h).
 *
 * Written once for two machines. Under nvcc's device pass a "lane value" is a register of
 * the thread and FROM() is a warp shuffle. Everywhere else (the CPU tests) a lane value is
 * an array over the 32 lanes, a LANES block is a loop over them, and FROM() reads another
 * lane's element. The rules that make both readings agree: a LANES block reads other
 * lanes' values only through variables it does not write, shuffles sit outside LANES
 * blocks (where every lane takes part), and values all lanes share are plain variables
 * computed the same way by each lane. The CPU reading runs its lanes in either order
 * (mw_lanes_reversed), so a test catches a block that breaks the first rule. */
#ifndef MC_WARP_H
#define MC_WARP_H

#include "../core/ap_rng.h"
#include "mc_equations.h"
#include "mc_params.h"

#include <math.h>

#ifndef MW0
#define MW0 9
#define MW1 30
#define MW2 3
#endif
#define MW_MAX_SAMPLES 64 /* the sample order lives in a local array */
#if MW1 > 32 || MW2 > 4
#error "mc_warp.h: at most 32 hidden neurons (a lane each) and 4 outputs (the scratch's φ slots)"
#endif

#if defined(__CUDA_ARCH__)
#define LV(type, name) type name
#define LARR(type, name, n) type name[n]
#define L(name) (name)
#define LX(name, j) ((name)[j])
#define LANES                                                                                      \
  {                                                                                                \
    const int lane = (int)(threadIdx.x & 31u);
#define LANES_END }
#define FROM(name, src) __shfl_sync(0xffffffffu, (name), (src))
#define FROMX(name, j, src) __shfl_sync(0xffffffffu, (name)[j], (src))
#define ANY(name) __any_sync(0xffffffffu, (name))
#define MW_FN __device__ __forceinline__
#define UNROLL _Pragma("unroll")
#define WARP_SYNC() __syncwarp()
/* x is computed here, not beside its use at the end of the step: an empty asm reading it
 * keeps nvcc from sinking a long-latency instruction (a square root) down to its use,
 * where the warp would wait for it */
#define MW_HERE(x) asm volatile("" ::"f"(x))
#else
/* 1: the CPU reading runs lanes 31 .. 0 instead of 0 .. 31 (tests set it). */
static int mw_lanes_reversed;
#define WARP_SYNC() ((void)0)
#define MW_HERE(x) ((void)(x))
#define LV(type, name) type name[32]
#define LARR(type, name, n) type name[32][n]
#define L(name) ((name)[lane])
#define LX(name, j) ((name)[lane][j])
#define LANES                                                                                      \
  for (int li_ = 0; li_ < 32; li_++) {                                                             \
    const int lane = mw_lanes_reversed ? 31 - li_ : li_;
#define LANES_END }
#define FROM(name, src) ((name)[src])
#define FROMX(name, j, src) ((name)[src][j])
#define ANY(name) mw_any(name)
static inline int mw_any(const int *v) {
  int any = 0;
  for (int i = 0; i < 32; i++) any |= v[i] != 0;
  return any;
}
#ifdef __CUDACC__
#define MW_FN static inline __host__
/* nvcc's host pass: nvcc's front end knows no GCC unroll, the host compiler no unroll */
#define UNROLL
#else
#define MW_FN static inline
#define UNROLL _Pragma("GCC unroll 64")
#endif
#endif

/* A replica's canonical state, strided: element e at base[e * stride]. */
typedef struct McView {
  float *base;
  size_t stride;
} McView;

#define MC_AT(v, e) ((v).base[(size_t)(e) * (v).stride])

/* The warp's shared scratch, MW_SHARED_FLOATS floats (shared memory on the GPU). Each
 * step the lanes publish their rates and their columns of W_ip and the output's W_up there,
 * and read back what they need: every lane all rates (broadcast loads in place of 36
 * shuffles), lane k the rows k (a pitch of MW_PITCH floats puts the three rows' loads in
 * different banks). The previous step's apical potentials wait there for the
 * self-prediction sum, and the interneurons' and outputs' learning factors pass through. */
#define MW_PITCH 36                       /* a row of W_ip or W_out in the scratch */
#define MW_SH_RP 0                        /* [32] hidden rates, lane i's at i */
#define MW_SH_RI 32                       /* [4] interneuron rates */
#define MW_SH_RO 36                       /* [4] output rates */
#define MW_SH_GI 40                       /* [4] interneurons' factors c_ip err */
#define MW_SH_GO 44                       /* [4] outputs' factors c_up err */
#define MW_SH_VA 48                       /* [2][32] a step's v_api, by the step's parity */
#define MW_SH_WIP 112                     /* [MW2][MW_PITCH] W_ip */
#define MW_SH_WOUT (112 + MW2 * MW_PITCH) /* [MW2][MW_PITCH] output W_up */
#define MW_SHARED_FLOATS (112 + 2 * MW2 * MW_PITCH)

/* One replica's network: per-lane registers and the values all lanes share. Every weight
 * is in a hidden lane's registers: lane i holds row i of W_up, W_down and W_pi, and column
 * i of W_ip and of the output's W_up, so that each lane takes its share of their updates. */
typedef struct McWarp {
  LARR(float, w_up, MW0);   /* hidden lane i: W_up[i][:] */
  LARR(float, w_down, MW2); /* hidden lane i: W_down[i][:] */
  LARR(float, w_pi, MW2);   /* hidden lane i: W_pi[i][:] */
  LARR(float, w_ip, MW2);   /* hidden lane i: W_ip[:][i] */
  LARR(float, w_out, MW2);  /* hidden lane i: W_up[1][:][i] */
  LV(float, u_p);
  LV(float, f_p);
  LV(float, r_p); /* hidden pyramid: u, ŭ, transmitted rate */
  LV(float, u_i);
  LV(float, f_i);
  LV(float, r_i); /* interneuron k */
  LV(float, u_o);
  LV(float, f_o);
  LV(float, r_o);                                         /* output k */
  LV(float, acc);                                         /* output k: readout sum of the sample */
  float r_in[MW0], u_tgt[MW2], tgt_last[MW2], nudge_last; /* shared */
  float diverged;                                         /* shared: the state field */
  float api_sum, inn_sum;                                 /* self-prediction sums of the epoch */
  float sums[MC_SUM_API]; /* the phases' hits and squared errors (record/sums) */
} McWarp;

/* What a test phase changes (it does not learn): kept before it, put back after. */
typedef struct McWarpKeep {
  LV(float, u_p);
  LV(float, f_p);
  LV(float, r_p);
  LV(float, u_i);
  LV(float, f_i);
  LV(float, r_i);
  LV(float, u_o);
  LV(float, f_o);
  LV(float, r_o);
  float r_in[MW0], u_tgt[MW2], tgt_last[MW2], nudge_last;
} McWarpKeep;

MW_FN float mw_rate(const McConst *k, float u, float forw) {
  return mc_phi(mc_shown(k->le, u, forw), k->gamma, k->beta, k->theta);
}

/* ---- loads and stores, one function per field of MC_LAYER_FIELDS / MC_GLOBAL_FIELDS ---- */

/* load: the register or shared value takes the state's, else the other way round. On the
 * GPU each lane stores its own neurons and lane 0 the values all lanes share. */
#define MW_MOVE(reg, mem) (load ? (void)((reg) = (mem)) : (void)((mem) = (reg)))

MW_FN void mw_w_up(McWarp *w, McView st, int off, int layer, int load) {
  LANES
  if (layer == 0 && lane < MW1)
    UNROLL for (int j = 0; j < MW0; j++) MW_MOVE(LX(w->w_up, j), MC_AT(st, off + lane * MW0 + j));
  if (layer == 1 && lane < MW1)
    UNROLL for (int k = 0; k < MW2; k++) MW_MOVE(LX(w->w_out, k), MC_AT(st, off + k * MW1 + lane));
  LANES_END
}
MW_FN void mw_w_down(McWarp *w, McView st, int off, int layer, int load) {
  (void)layer;
  LANES
  if (lane < MW1)
    UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(LX(w->w_down, j), MC_AT(st, off + lane * MW2 + j));
  LANES_END
}
MW_FN void mw_w_pi(McWarp *w, McView st, int off, int layer, int load) {
  (void)layer;
  LANES
  if (lane < MW1)
    UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(LX(w->w_pi, j), MC_AT(st, off + lane * MW2 + j));
  LANES_END
}
MW_FN void mw_w_ip(McWarp *w, McView st, int off, int layer, int load) {
  (void)layer;
  LANES
  if (lane < MW1)
    UNROLL for (int k = 0; k < MW2; k++) MW_MOVE(LX(w->w_ip, k), MC_AT(st, off + k * MW1 + lane));
  LANES_END
}
MW_FN void mw_u_pyr(McWarp *w, McView st, int off, int layer, int load) {
  LANES
  if (layer == 0 && lane < MW1) MW_MOVE(L(w->u_p), MC_AT(st, off + lane));
  if (layer == 1 && lane < MW2) MW_MOVE(L(w->u_o), MC_AT(st, off + lane));
  LANES_END
}
MW_FN void mw_forw_pyr(McWarp *w, McView st, int off, int layer, int load) {
  LANES
  if (layer == 0 && lane < MW1) MW_MOVE(L(w->f_p), MC_AT(st, off + lane));
  if (layer == 1 && lane < MW2) MW_MOVE(L(w->f_o), MC_AT(st, off + lane));
  LANES_END
}
MW_FN void mw_u_inn(McWarp *w, McView st, int off, int layer, int load) {
  (void)layer;
  LANES
  if (lane < MW2) MW_MOVE(L(w->u_i), MC_AT(st, off + lane));
  LANES_END
}
MW_FN void mw_forw_inn(McWarp *w, McView st, int off, int layer, int load) {
  (void)layer;
  LANES
  if (lane < MW2) MW_MOVE(L(w->f_i), MC_AT(st, off + lane));
  LANES_END
}
/* The poisson network's fields: the warp kernel runs rate cohorts only (mw_fits), which
 * never touch them; the device keeps them as loaded and state_get returns them as they were. */
#define MW_UNUSED_FIELD(member)                                                                    \
  MW_FN void mw_##member(McWarp *w, McView st, int off, int layer, int load) {                     \
    (void)w, (void)st, (void)off, (void)layer, (void)load;                                         \
  }
MW_UNUSED_FIELD(vb_pyr)
MW_UNUSED_FIELD(va_pyr)
MW_UNUSED_FIELD(vd_inn)
MW_UNUSED_FIELD(tr_pyr)
MW_UNUSED_FIELD(tr_inn)
MW_UNUSED_FIELD(sp_pyr)
MW_UNUSED_FIELD(sp_inn)
MW_UNUSED_FIELD(ref_pyr)
MW_UNUSED_FIELD(ref_inn)
#undef MW_UNUSED_FIELD
MW_FN void mw_tr_in(McWarp *w, McView st, int off, int load) {
  (void)w, (void)st, (void)off, (void)load;
}

/* the shared values: every lane loads them, lane 0 stores them */
#define MW_SHARED(body)                                                                            \
  do {                                                                                             \
    if (load) {                                                                                    \
      body;                                                                                        \
    } else {                                                                                       \
      LANES if (lane == 0) { body; }                                                               \
      LANES_END                                                                                    \
    }                                                                                              \
  } while (0)
MW_FN void mw_r_in(McWarp *w, McView st, int off, int load) {
  MW_SHARED(UNROLL for (int j = 0; j < MW0; j++) MW_MOVE(w->r_in[j], MC_AT(st, off + j)));
}
MW_FN void mw_u_tgt(McWarp *w, McView st, int off, int load) {
  MW_SHARED(UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(w->u_tgt[j], MC_AT(st, off + j)));
}
MW_FN void mw_u_tgt_last(McWarp *w, McView st, int off, int load) {
  MW_SHARED(UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(w->tgt_last[j], MC_AT(st, off + j)));
}
MW_FN void mw_nudge_last(McWarp *w, McView st, int off, int load) {
  MW_SHARED(MW_MOVE(w->nudge_last, MC_AT(st, off)));
}
MW_FN void mw_diverged(McWarp *w, McView st, int off, int load) {
  MW_SHARED(MW_MOVE(w->diverged, MC_AT(st, off)));
}

/* 1 when any value of the replica's state is non-finite (every lane takes part). */
MW_FN int mw_any_nonfinite(const McWarp *w) {
  int shared = !isfinite(w->nudge_last);
  UNROLL for (int j = 0; j < MW0; j++) shared |= !isfinite(w->r_in[j]);
  UNROLL for (int j = 0; j < MW2; j++) shared |= !isfinite(w->u_tgt[j]) | !isfinite(w->tgt_last[j]);
  LV(int, bad);
  LANES
  L(bad) = 0;
  if (lane < MW1) {
    UNROLL for (int j = 0; j < MW0; j++) L(bad) |= !isfinite(LX(w->w_up, j));
    UNROLL for (int j = 0; j < MW2; j++) L(bad) |=
        !isfinite(LX(w->w_down, j)) | !isfinite(LX(w->w_pi, j)) | !isfinite(LX(w->w_ip, j)) |
        !isfinite(LX(w->w_out, j));
    L(bad) |= !isfinite(L(w->u_p)) | !isfinite(L(w->f_p));
  }
  if (lane < MW2) {
    L(bad) |=
        !isfinite(L(w->u_i)) | !isfinite(L(w->f_i)) | !isfinite(L(w->u_o)) | !isfinite(L(w->f_o));
  }
  LANES_END
  return shared | ANY(bad);
}

/* The series of a frozen replica's record: NaN, and the flag. */
MW_FN void mw_frozen_series(float *o, const McSeriesOffsets *so, int width) {
  for (int i = 0; i < width; i++) o[i] = NAN;
  o[so->diverged] = 1.0f;
}

/* Every field of the field list, in or out; a field without its function above does
 * not compile. Layer 0 is the hidden layer, layer 1 the output (no hidden-only fields):
 * layer, load and which fields exist are compile-time constants here, so every value
 * stays in registers (a runtime choice made nvcc spill the network to local memory). */
MW_FN void mw_transfer(McWarp *w, McView st, const McLayout *lay, int load) {
  const McLayerOffsets *h = &lay->layer[0], *o = &lay->layer[1];
#define MW_HIDDEN(member, ...) mw_##member(w, st, h->member, 0, load);
  MC_LAYER_FIELDS(MW_HIDDEN)
#undef MW_HIDDEN
#define MW_OUTPUT(member, label, n_rows, n_cols, kind, hidden_only, reset, help)                   \
  if (!(hidden_only)) mw_##member(w, st, o->member, 1, load);
  MC_LAYER_FIELDS(MW_OUTPUT)
#undef MW_OUTPUT
#define MW_FIELD(member, ...) mw_##member(w, st, lay->member, load);
  MC_GLOBAL_FIELDS(MW_FIELD)
#undef MW_FIELD
}

/* Every lane's every value zero, so that lanes past the network's neurons never hold
 * undefined values (a functional simulator refuses to read them; a GPU would not care),
 * and the warp's scratch too. */
MW_FN void mw_clear(McWarp *w, float *sh) {
  // clang-format off
  LANES
  // clang-format on
  UNROLL for (int j = 0; j < MW0; j++) LX(w->w_up, j) = 0.0f;
  UNROLL for (int j = 0; j < MW2; j++) LX(w->w_down, j) = LX(w->w_pi, j) = 0.0f;
  UNROLL for (int j = 0; j < MW2; j++) LX(w->w_ip, j) = LX(w->w_out, j) = 0.0f;
  L(w->u_p) = L(w->f_p) = L(w->r_p) = L(w->u_i) = L(w->f_i) = L(w->r_i) = 0.0f;
  L(w->u_o) = L(w->f_o) = L(w->r_o) = L(w->acc) = 0.0f;
  for (int i = lane; i < MW_SHARED_FLOATS; i += 32) sh[i] = 0.0f;
  LANES_END
  WARP_SYNC();
  UNROLL for (int j = 0; j < MW0; j++) w->r_in[j] = 0.0f;
  UNROLL for (int j = 0; j < MW2; j++) w->u_tgt[j] = w->tgt_last[j] = 0.0f;
  w->nudge_last = w->diverged = w->api_sum = w->inn_sum = 0.0f;
  UNROLL for (int q = 0; q < MC_SUM_API; q++) w->sums[q] = 0.0f;
}

/* The transmitted rates from the potentials (the body's mc_body_refresh). */
MW_FN void mw_refresh(McWarp *w, const McConst *k) {
  LANES
  if (lane < MW1) L(w->r_p) = mw_rate(k, L(w->u_p), L(w->f_p));
  if (lane < MW2) {
    L(w->r_i) = mw_rate(k, L(w->u_i), L(w->f_i));
    L(w->r_o) = mw_rate(k, L(w->u_o), L(w->f_o));
  }
  LANES_END
}

/* The test phase's copy of what it changes (back = 0), and back (back = 1). */
MW_FN void mw_keep(McWarpKeep *c, McWarp *w, int back) {
#define MW_KEEP(a, b)                                                                              \
  do {                                                                                             \
    if (back)                                                                                      \
      (b) = (a);                                                                                   \
    else                                                                                           \
      (a) = (b);                                                                                   \
  } while (0)
  // clang-format off
  LANES
  (void)lane; /* a lane value is a scalar on the GPU */
  // clang-format on
  MW_KEEP(L(c->u_p), L(w->u_p));
  MW_KEEP(L(c->f_p), L(w->f_p));
  MW_KEEP(L(c->r_p), L(w->r_p));
  MW_KEEP(L(c->u_i), L(w->u_i));
  MW_KEEP(L(c->f_i), L(w->f_i));
  MW_KEEP(L(c->r_i), L(w->r_i));
  MW_KEEP(L(c->u_o), L(w->u_o));
  MW_KEEP(L(c->f_o), L(w->f_o));
  MW_KEEP(L(c->r_o), L(w->r_o));
  LANES_END
  UNROLL for (int j = 0; j < MW0; j++) MW_KEEP(c->r_in[j], w->r_in[j]);
  UNROLL for (int j = 0; j < MW2; j++) {
    MW_KEEP(c->u_tgt[j], w->u_tgt[j]);
    MW_KEEP(c->tgt_last[j], w->tgt_last[j]);
  }
  MW_KEEP(c->nudge_last, w->nudge_last);
#undef MW_KEEP
}

/* ---- the step -------------------------------------------------------------------------- */

/* mc_soma_advance without its φ: the potentials u and ŭ; the rate is φ of ŭ under LE,
 * else of u, taken by mw_step beside the other neurons' (rate left 0 here). */
MW_FN McSoma mw_soma(float u, float udot, float dt, float tau) {
  McSoma s;
  s.forw = mc_prospective(u, tau, udot);
  s.u = mc_euler(u, dt, udot);
  s.rate = 0.0f;
  return s;
}

/* The self-prediction error of the apical potentials of one step, Σ v² over the hidden
 * neurons in the body's order, from the scratch (see mw_step). */
MW_FN float mw_api_sum(const float *va) {
  float v[MW1], api = 0.0f;
  UNROLL for (int i = 0; i < MW1; i++) v[i] = va[i];
  UNROLL for (int i = 0; i < MW1; i++) api = fmaf(v[i], v[i], api);
  return api;
}

/* One time step (mc_body_step's order). x, tv: the sample's input and the target's
 * values (registers for the whole sample). Where a step is tracked, its apical
 * potentials wait in the scratch (buffer t & 1) and the next step adds their sum to
 * api_sum inside its dendritic sums, where the warp has issue slots to spare (api_prev:
 * the previous step was tracked; the sample's last is added by mw_sample). The sums keep
 * the body's order and api_sum its order over the steps. */
MW_FN void mw_step(McWarp *w, float *sh, const float *x, const float *tv, const McConst *k,
                   int learn, float nudge_now, int t, int track, int api_prev) {
  /* 1. inputs and targets */
  mc_lowpass_n(w->r_in, x, MW0, k->k_in);
  mc_lowpass_n(w->u_tgt, tv, MW2, k->k_in);

  /* 2. the previous step's rates to every lane, and the rows of W_ip and W_out to their
   * lanes, through the scratch */
  WARP_SYNC(); /* every lane has read the previous step's */
  LANES
  sh[MW_SH_RP + lane] = L(w->r_p);
  if (lane < MW2) {
    sh[MW_SH_RI + lane] = L(w->r_i);
    sh[MW_SH_RO + lane] = L(w->r_o);
  }
  UNROLL for (int j = 0; j < MW2; j++) {
    sh[MW_SH_WIP + j * MW_PITCH + lane] = LX(w->w_ip, j);
    sh[MW_SH_WOUT + j * MW_PITCH + lane] = LX(w->w_out, j);
  }
  LANES_END
  WARP_SYNC();
  float rp[MW1], ri[MW2], ro[MW2], va[MW1];
  const float *va_prev = sh + MW_SH_VA + ((t + 1) & 1) * 32;
  UNROLL for (int i = 0; i < MW1; i++) rp[i] = sh[MW_SH_RP + i];
  UNROLL for (int j = 0; j < MW2; j++) {
    ri[j] = sh[MW_SH_RI + j];
    ro[j] = sh[MW_SH_RO + j];
  }
  UNROLL for (int i = 0; i < MW1; i++) va[i] = va_prev[i];

  /* 3. dendrites: every lane's sums side by side, and the previous step's Σ v_api² */
  LV(float, v_bas);
  LV(float, v_api);
  LV(float, v_den);
  LV(float, v_out);
  float api = 0.0f; /* the same in every lane */
  LANES
  float vb = 0.0f, vap = 0.0f, vt = 0.0f, vd = 0.0f, vo = 0.0f, a = 0.0f, wi[MW1], wo[MW1];
  const int row = lane < MW2 ? lane : 0; /* the lanes past the outputs sum row 0 unused */
  const float *wrow = sh + MW_SH_WIP + row * MW_PITCH; /* one address for all the loads */
  UNROLL for (int i = 0; i < MW1; i++) wi[i] = wrow[i];
  UNROLL for (int i = 0; i < MW1; i++) wo[i] = wrow[MW_SH_WOUT - MW_SH_WIP + i];
  UNROLL for (int i = 0; i < MW1; i++) {
    vd = fmaf(wi[i], rp[i], vd);
    vo = fmaf(wo[i], rp[i], vo);
    a = fmaf(va[i], va[i], a);
    if (i < MW0) vb = fmaf(LX(w->w_up, i), w->r_in[i], vb);
    if (i < MW2) {
      vap = fmaf(LX(w->w_down, i), ro[i], vap);
      vt = fmaf(LX(w->w_pi, i), ri[i], vt);
    }
  }
  api = a;
  L(v_bas) = vb;
  L(v_api) = vap + vt;
  L(v_den) = vd;
  L(v_out) = vo;
  if (track) sh[MW_SH_VA + (t & 1) * 32 + lane] = lane < MW1 ? vap + vt : 0.0f;
  LANES_END
  /* the root unconditionally and a select below, not a branch: a branch let nvcc move the
   * whole Σ v_api² chain out of the dendritic sums into it, one dependent fma after another */
  float api_root = sqrtf(api);
  MW_HERE(api_root);
  float inn = 0.0f;
  if (track) { /* the interneurons' self-prediction error, in the body's order */
    UNROLL for (int j = 0; j < MW2; j++) {
      float diff = ri[j] - ro[j];
      inn = fmaf(diff, diff, inn);
    }
    inn = inn / (float)MW2;
  }

  /* 4. the somas. A step takes 72 φ (36 rates, 36 dendritic errors), each a chain of
   * dependent instructions: one round of six side by side in every lane (mc_phi_n), the
   * hidden pyramid's rate and error, and in lanes 0..MW2-1 interneuron k's and output k's
   * rates and errors (the lanes past them compute unused values). The three u̇ come
   * first, their divisions side by side. mw_soma is mc_soma_advance and "rate - φ(α v)"
   * mc_dendritic_error, with their φ taken here. */
  LV(float, nr_p);
  LV(float, nr_i);
  LV(float, nr_o);
  LANES
  float tgt_last = w->tgt_last[0], tgt_now = w->u_tgt[0]; /* output lane's own, no index */
  UNROLL for (int j = 1; j < MW2; j++) {
    tgt_last = lane == j ? w->tgt_last[j] : tgt_last;
    tgt_now = lane == j ? w->u_tgt[j] : tgt_now;
  }
  /* mc_pyramid_udot, mc_interneuron_udot, mc_output_udot: the steady states first */
  float ss_o = mc_output_steady(L(v_out), mc_le_delayed(k->le, w->nudge_last, nudge_now),
                                mc_le_delayed(k->le, tgt_last, tgt_now), k->gb, k->gsom, k->g_out,
                                k->g_free); /* the target nudges, one step late under LE */
  float ss_p = mc_pyramid_steady(L(v_bas), L(v_api), k->gb, k->ga, k->g_pyr);
  float ss_i = mc_interneuron_steady(L(v_den), mc_shown(k->le, L(w->u_o), L(w->f_o)), k->gb,
                                     k->gsom, k->g_inn); /* its sister's previous u */
  float udot = mc_udot(k->g_pyr, ss_p, L(w->u_p));
  float udot_i = mc_udot(k->g_inn, ss_i, L(w->u_i));
  float udot_o = mc_udot(k->g_out, ss_o, L(w->u_o));
  McSoma n = mw_soma(L(w->u_p), udot, k->dt, k->tau_pyr);
  McSoma ni = mw_soma(L(w->u_i), udot_i, k->dt, k->tau_inn);
  McSoma no = mw_soma(L(w->u_o), udot_o, k->dt, k->tau_out);
  const int le = k->le != 0.0f;
  float phi[6] = {le ? n.forw : n.u,       le ? ni.forw : ni.u,     le ? no.forw : no.u,
                  k->alpha_pyr * L(v_bas), k->alpha_inn * L(v_den), k->alpha_out * L(v_out)};
  mc_phi_n(phi, phi, 6, k->gamma, k->beta, k->theta);
  if (lane < MW1) {
    L(nr_p) = phi[0];
    L(w->f_p) = n.forw;
    L(w->u_p) = n.u;
  }
  if (lane < MW2) {
    L(w->f_i) = ni.forw;
    L(w->u_i) = ni.u;
    L(w->f_o) = no.forw;
    L(w->u_o) = no.u;
    L(w->acc) =
        mc_readout(L(w->acc), (float)t, k->lag, mc_shown(k->le, no.u, no.forw), k->readout_n);
    L(nr_i) = phi[1];
    L(nr_o) = phi[2];
    if (learn && k->c_ip[0] != 0.0f) /* row lane of W_ip moves in every hidden lane, below */
      sh[MW_SH_GI + lane] = k->c_ip[0] * (phi[1] - phi[4]);
    if (learn) /* row lane of the output's W_up moves in every hidden lane, below */
      sh[MW_SH_GO + lane] = k->c_up[1] * (phi[2] - phi[5]);
  }
  if (learn) {
    float g = k->c_up[0] * (phi[0] - phi[3]);
    /* mc_weight_step_clipped, the steps side by side before the clips */
    float up[MW0];
    UNROLL for (int j = 0; j < MW0; j++) up[j] = mc_weight_step(LX(w->w_up, j), g, w->r_in[j]);
    mc_clip_n(up, up, MW0, k->w_max_h);
    if (lane < MW1) UNROLL for (int j = 0; j < MW0; j++) LX(w->w_up, j) = up[j];
    if (lane < MW1 && k->c_pi[0] != 0.0f) {
      float g2 = k->c_pi[0] * -L(v_api); /* eq. 2.15 */
      UNROLL for (int j = 0; j < MW2; j++) LX(w->w_pi, j) =
          mc_weight_step(LX(w->w_pi, j), g2, ri[j]);
    }
  }
  LANES_END

  /* the columns of W_ip and W_out: W[k][i] += g_k r_i, r_i the rate of the step's start
   * (the hidden lane's own); mc_weight_step_clipped for W_out, the steps before the clips */
  if (learn) {
    WARP_SYNC(); /* the factors the k lanes wrote */
    float gi[MW2], go[MW2];
    const int inn = k->c_ip[0] != 0.0f;
    UNROLL for (int j = 0; j < MW2; j++) {
      gi[j] = sh[MW_SH_GI + j];
      go[j] = sh[MW_SH_GO + j];
    }
    LANES
    if (lane < MW1) {
      float st[MW2];
      if (inn)
        UNROLL for (int j = 0; j < MW2; j++) LX(w->w_ip, j) =
            mc_weight_step(LX(w->w_ip, j), gi[j], L(w->r_p));
      UNROLL for (int j = 0; j < MW2; j++) st[j] =
          mc_weight_step(LX(w->w_out, j), go[j], L(w->r_p));
      mc_clip_n(st, st, MW2, k->w_max_o);
      UNROLL for (int j = 0; j < MW2; j++) LX(w->w_out, j) = st[j];
    }
    LANES_END
  }

  LANES
  if (lane < MW1) L(w->r_p) = L(nr_p);
  if (lane < MW2) {
    L(w->r_i) = L(nr_i);
    L(w->r_o) = L(nr_o);
  }
  LANES_END
  UNROLL for (int j = 0; j < MW2; j++) w->tgt_last[j] = w->u_tgt[j];
  w->nudge_last = nudge_now;
  /* late: the root has had the step to arrive; + 0 keeps api_sum's bits (it is >= +0) */
  w->api_sum += api_prev ? api_root : 0.0f;
  if (track) w->inn_sum += inn;
}

/* One sample (mc_body_sample). x: the sample's input (device memory on the GPU), read once. */
MW_FN int mw_sample(McWarp *w, float *sh, const McConst *k, const float *xg, int y, int t_pres,
                    int learn, int learn_lag, int nudge, int track, int reset, float *sq_err) {
  float x[MW0], tv[MW2];
  UNROLL for (int j = 0; j < MW0; j++) x[j] = xg[j];
  UNROLL for (int j = 0; j < MW2; j++) tv[j] = j == y ? k->u_high : k->u_low;
  LANES
  if (lane < MW2) L(w->acc) = 0.0f;
  if (reset) { /* the fields with the reset flag: the potentials */
    if (lane < MW1) L(w->u_p) = L(w->f_p) = 0.0f;
    if (lane < MW2) L(w->u_i) = L(w->f_i) = L(w->u_o) = L(w->f_o) = 0.0f;
  }
  LANES_END
  if (reset) mw_refresh(w, k);
  for (int t = 0; t < t_pres; t++)
    mw_step(w, sh, x, tv, k, learn && t >= learn_lag, nudge ? 1.0f : 0.0f, t, track,
            track && t > 0);
  if (track && t_pres > 0) { /* the last step's Σ v_api² */
    WARP_SYNC();
    w->api_sum += sqrtf(mw_api_sum(sh + MW_SH_VA + ((t_pres - 1) & 1) * 32));
  }
  int best = 0;
  float e = 0.0f, best_a = FROM(w->acc, 0);
  UNROLL for (int j = 0; j < MW2; j++) {
    float a = FROM(w->acc, j), t = tv[j];
    if (a > best_a) {
      best = j;
      best_a = a;
    }
    e += (a - t) * (a - t);
  }
  *sq_err = e;
  return best == y;
}

/* record/sums: the phases' sums, then the hidden layer's apical and interneuron sums. */
MW_FN void mw_sums(McWarp *w, McView st, const McLayout *lay, int load) {
  MW_SHARED(UNROLL for (int q = 0; q < MC_SUM_API; q++)
                MW_MOVE(w->sums[q], MC_AT(st, lay->sums + q));
            MW_MOVE(w->api_sum, MC_AT(st, lay->sums + MC_SUM_API));
            MW_MOVE(w->inn_sum, MC_AT(st, lay->sums + MC_SUM_API + 1)));
}

/* A test phase's copy (McWarpKeep) in or out of record/kept, where a run stopped inside the
 * phase keeps it; the rates are the potentials' (mw_refresh). */
MW_FN void mw_keep_io(McWarpKeep *c, McView st, const McLayout *lay, const McConst *k, int load) {
  const McLayerOffsets *h = &lay->layer[0], *o = &lay->layer[1];
  const int up = mc_kept_at(lay, h->u_pyr), fp = mc_kept_at(lay, h->forw_pyr);
  const int ui = mc_kept_at(lay, h->u_inn), fi = mc_kept_at(lay, h->forw_inn);
  const int uo = mc_kept_at(lay, o->u_pyr), fo = mc_kept_at(lay, o->forw_pyr);
  LANES
  if (lane < MW1) {
    MW_MOVE(L(c->u_p), MC_AT(st, up + lane));
    MW_MOVE(L(c->f_p), MC_AT(st, fp + lane));
    if (load) L(c->r_p) = mw_rate(k, L(c->u_p), L(c->f_p));
  }
  if (lane < MW2) {
    MW_MOVE(L(c->u_i), MC_AT(st, ui + lane));
    MW_MOVE(L(c->f_i), MC_AT(st, fi + lane));
    MW_MOVE(L(c->u_o), MC_AT(st, uo + lane));
    MW_MOVE(L(c->f_o), MC_AT(st, fo + lane));
    if (load) {
      L(c->r_i) = mw_rate(k, L(c->u_i), L(c->f_i));
      L(c->r_o) = mw_rate(k, L(c->u_o), L(c->f_o));
    }
  }
  LANES_END
  const int ri = mc_kept_at(lay, lay->r_in), ut = mc_kept_at(lay, lay->u_tgt);
  const int ul = mc_kept_at(lay, lay->u_tgt_last), nl = mc_kept_at(lay, lay->nudge_last);
  MW_SHARED(UNROLL for (int j = 0; j < MW0; j++) MW_MOVE(c->r_in[j], MC_AT(st, ri + j));
            UNROLL for (int j = 0; j < MW2; j++) {
              MW_MOVE(c->u_tgt[j], MC_AT(st, ut + j));
              MW_MOVE(c->tgt_last[j], MC_AT(st, ul + j));
            } MW_MOVE(c->nudge_last, MC_AT(st, nl)));
}

MW_FN void mw_kept_clear(McView st, const McLayout *lay) {
  int n = 0;
  for (int q = 0; q < lay->n_kept_runs; q++) n += lay->kept_run[q][1];
  LANES
  for (int i = lane; i < n; i += 32) MC_AT(st, lay->kept + i) = 0.0f;
  LANES_END
}

/* One replica from `from` to `to` (samples, mc_units; mc_body_records), state in and out
 * through st; the series of record e go to out + (e - col0) * width. sh: the warp's
 * scratch, MW_SHARED_FLOATS floats (shared memory on the GPU). kg: the replica's constants,
 * read once into registers. */
MW_FN void mw_records(McView st, const McLayout *lay, const McConst *kg, const McSched *sch,
                      const ApData *data, ApPos from, ApPos to, float *out, int col0, int width,
                      float *sh) {
  const McConst kc = *kg, *k = &kc;
  McWarp w;
  mw_clear(&w, sh);
  const McSeriesOffsets *so = &lay->ser;
  const long long n_tr = data->n_train, t0 = n_tr + sch->n_val, U = mc_units(sch, data->n_train);
  mw_transfer(&w, st, lay, 1);
  mw_sums(&w, st, lay, 1);
  mw_refresh(&w, k);
  uint32_t perm[MW_MAX_SAMPLES];
  for (int e = from.record; e <= ap_last_record(to); e++) {
    long long u0, u1;
    ap_part(from, to, U, e, &u0, &u1);
    float *o = out + (size_t)(e - col0) * (size_t)width;
    if (w.diverged != 0.0f) { /* frozen at its first non-finite state (mc_body_records) */
      if (u1 == U) mw_frozen_series(o, so, width);
      continue;
    }
    float err;
    if (u0 == 0) {
      UNROLL for (int q = 0; q < MC_SUM_API; q++) w.sums[q] = 0.0f;
      w.api_sum = w.inn_sum = 0.0f;
    }
    for (int phase = 0; phase < 2; phase++) {
      const long long a = phase ? n_tr : 0, z = phase ? t0 : n_tr; /* the phase's units */
      if (u0 >= z || u1 <= a) continue;
      int n = phase ? data->n_val : data->n_train;
      ap_sample_order(perm, 1, (uint32_t)n, k->seed, (uint32_t)e, (uint32_t)phase);
      const float *xs = phase ? data->x_val : data->x_train;
      const int *ys = phase ? data->y_val : data->y_train;
      for (long long s = (u0 > a ? u0 : a) - a; s < (u1 < z ? u1 : z) - a; s++) {
        uint32_t idx = perm[s];
        int hit = mw_sample(&w, sh, k, xs + (size_t)idx * MW0, ys[idx], sch->t_pres,
                            phase ? 0 : sch->learn, sch->learn_lag, phase ? 0 : sch->teacher,
                            !phase, sch->reset, &err);
        if (phase) {
          w.sums[MC_SUM_VAL] += (float)hit;
          w.sums[MC_SUM_VAL_ERR] += err;
        } else {
          w.sums[MC_SUM_TRAIN] += (float)hit;
        }
      }
    }
    /* the test phase (mc_body_records): every held-out sample in order, from a copy of
     * the state put back afterwards; the weights do not move without learning */
    const int test = mc_test_due(sch, e);
    if (test && u1 > t0) {
      McWarpKeep keep;
      if (u0 <= t0)
        mw_keep(&keep, &w, 0);
      else
        mw_keep_io(&keep, st, lay, k, 1);
      for (long long s = (u0 > t0 ? u0 : t0) - t0; s < u1 - t0; s++) {
        w.sums[MC_SUM_TEST] +=
            (float)mw_sample(&w, sh, k, data->x_val + (size_t)s * MW0, data->y_val[s], sch->t_pres,
                             0, 0, 0, 0, sch->reset, &err);
        w.sums[MC_SUM_TEST_ERR] += err;
      }
      if (u1 < U) {
        mw_keep_io(&keep, st, lay, k, 0);
      } else {
        mw_keep(&keep, &w, 1);
        if (u0 > t0) mw_kept_clear(st, lay); /* record/kept is zero outside a test phase */
      }
    }
    if (u1 < U) break; /* stopped inside the record: its sums go to the state */
    /* the weight errors of the self-predicting state, in the body's order: the columns
     * of W_ip and W_out through the scratch */
    double ff = 0, fb = 0;
    WARP_SYNC(); /* every lane is done with the scratch */
    LANES
    UNROLL for (int j = 0; j < MW2; j++) {
      sh[MW_SH_WIP + j * MW_PITCH + lane] = LX(w.w_ip, j);
      sh[MW_SH_WOUT + j * MW_PITCH + lane] = LX(w.w_out, j);
    }
    LANES_END
    WARP_SYNC(); /* every lane reads every column */
    for (int j = 0; j < MW2; j++)
      for (int i = 0; i < MW1; i++) {
        float a = sh[MW_SH_WIP + j * MW_PITCH + i] - k->rho[0] * sh[MW_SH_WOUT + j * MW_PITCH + i];
        ff += (double)a * (double)a;
      }
    WARP_SYNC(); /* before any lane writes the scratch again */
    UNROLL for (int i = 0; i < MW1; i++) UNROLL for (int j = 0; j < MW2; j++) {
      float q = FROMX(w.w_pi, j, i) + FROMX(w.w_down, j, i);
      fb += (double)q * (double)q;
    }
    float steps = (float)data->n_train * (float)sch->t_pres;
    o[so->train_acc] = w.sums[MC_SUM_TRAIN] / (float)data->n_train;
    o[so->val_acc] = sch->n_val > 0 ? w.sums[MC_SUM_VAL] / (float)sch->n_val : NAN;
    o[so->val_mse] =
        sch->n_val > 0 ? w.sums[MC_SUM_VAL_ERR] / ((float)sch->n_val * (float)MW2) : NAN;
    o[so->test_acc] = test ? w.sums[MC_SUM_TEST] / (float)sch->n_test : NAN;
    o[so->test_mse] = test ? w.sums[MC_SUM_TEST_ERR] / ((float)sch->n_test * (float)MW2) : NAN;
    o[so->api_err] = w.api_sum / steps;
    o[so->inn_err] = w.inn_sum / steps;
    o[so->ff_err] = (float)(ff / (MW1 * MW2));
    o[so->fb_err] = (float)(fb / (MW1 * MW2));
    o[so->diverged] = 0.0f;
    UNROLL for (int q = 0; q < MC_SUM_API; q++) w.sums[q] = 0.0f; /* zero between records */
    w.api_sum = w.inn_sum = 0.0f;
    if (mw_any_nonfinite(&w)) {
      w.diverged = (float)(e + 1);
      mw_frozen_series(o, so, width);
    }
  }
  mw_transfer(&w, st, lay, 0);
  mw_sums(&w, st, lay, 0);
}

/* The warp version runs this network, neuron type and sample set. */
AP_HD int mw_fits(const McDims *d, int neuron, const ApData *data) {
  return d->n_layers == 2 && d->n[0] == MW0 && d->n[1] == MW1 && d->n[2] == MW2 &&
         neuron == MC_RATE && data->n_train <= MW_MAX_SAMPLES && data->n_val <= MW_MAX_SAMPLES;
}

/* The two readings' macros end here: their short names (L, FROM, ANY, ...) would otherwise
 * reach every file that includes this one. What others use stays: MW0-MW2, MW_MAX_SAMPLES,
 * MW_SHARED_FLOATS and the scratch's MW_SH_*. */
#undef LV
#undef LARR
#undef L
#undef LX
#undef LANES
#undef LANES_END
#undef FROM
#undef FROMX
#undef ANY
#undef UNROLL
#undef WARP_SYNC
#undef MW_FN
#undef MW_HERE
#undef MW_MOVE
#undef MW_SHARED

#endif
