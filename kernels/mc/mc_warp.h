/* A faster version of the microcircuit's step for the GPU: one replica per warp. Lane i
 * is hidden pyramid i, lane k is also interneuron k and output neuron k. The hidden
 * neurons' weights live in the registers of their lane; the interneurons' and outputs'
 * rows (MW2 x MW1 each) in shared memory, where lane k reads and writes its own rows.
 * For one hidden layer of at most 32 neurons and at most 32 outputs; sizes fixed at
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
#else
/* 1: the CPU reading runs lanes 31 .. 0 instead of 0 .. 31 (tests set it). */
static int mw_lanes_reversed;
#define WARP_SYNC() ((void)0)
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
#define UNROLL _Pragma("unroll")
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

/* The interneurons' and outputs' weight rows, 2 MW2 MW1 floats (shared memory on the GPU):
 * row k of each is lane k's. Kept out of McWarp, which holds floats only, so that nvcc
 * keeps all of it in registers. */
#define MW_W_IP(rows) (rows)                /* [MW2][MW1] W_ip */
#define MW_W_OUT(rows) ((rows) + MW2 * MW1) /* [MW2][MW1] output W_up */

/* One replica's network: per-lane registers and the values all lanes share. */
typedef struct McWarp {
  LARR(float, w_up, MW0);   /* hidden lane i: W_up[i][:] */
  LARR(float, w_down, MW2); /* hidden lane i: W_down[i][:] */
  LARR(float, w_pi, MW2);   /* hidden lane i: W_pi[i][:] */
  LV(float, u_p);
  LV(float, f_p);
  LV(float, r_p); /* hidden pyramid: u, ŭ, transmitted rate */
  LV(float, u_i);
  LV(float, f_i);
  LV(float, r_i); /* interneuron k */
  LV(float, u_o);
  LV(float, f_o);
  LV(float, r_o); /* output k */
  LV(float, acc); /* output k: readout sum of the sample */
  LV(float, v_bas);
  LV(float, v_api);
  LV(float, v_den);
  LV(float, v_out);
  LV(float, nr_p);
  LV(float, nr_i);
  LV(float, nr_o);                                        /* next step's rates */
  float r_in[MW0], u_tgt[MW2], tgt_last[MW2], nudge_last; /* shared */
  float diverged;                                         /* shared: the state field */
  float api_sum, inn_sum;                                 /* self-prediction sums of the epoch */
} McWarp;

MW_FN float mw_rate(const McConst *k, float u, float forw) {
  return mc_phi(mc_shown(k->le, u, forw), k->gamma, k->beta, k->theta);
}

/* ---- loads and stores, one function per field of MC_LAYER_FIELDS / MC_GLOBAL_FIELDS ---- */

/* load: the register or shared value takes the state's, else the other way round. On the
 * GPU each lane stores its own neurons and lane 0 the values all lanes share. */
#define MW_MOVE(reg, mem) (load ? (void)((reg) = (mem)) : (void)((mem) = (reg)))

MW_FN void mw_w_up(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  LANES
  if (layer == 0 && lane < MW1)
    UNROLL for (int j = 0; j < MW0; j++) MW_MOVE(LX(w->w_up, j), MC_AT(st, off + lane * MW0 + j));
  if (layer == 1 && lane < MW2)
    for (int j = 0; j < MW1; j++)
      MW_MOVE(MW_W_OUT(rows)[lane * MW1 + j], MC_AT(st, off + lane * MW1 + j));
  LANES_END
}
MW_FN void mw_w_down(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)rows;
  (void)layer;
  LANES
  if (lane < MW1)
    UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(LX(w->w_down, j), MC_AT(st, off + lane * MW2 + j));
  LANES_END
}
MW_FN void mw_w_pi(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)rows;
  (void)layer;
  LANES
  if (lane < MW1)
    UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(LX(w->w_pi, j), MC_AT(st, off + lane * MW2 + j));
  LANES_END
}
MW_FN void mw_w_ip(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)w;
  (void)layer;
  LANES
  if (lane < MW2)
    for (int j = 0; j < MW1; j++)
      MW_MOVE(MW_W_IP(rows)[lane * MW1 + j], MC_AT(st, off + lane * MW1 + j));
  LANES_END
}
MW_FN void mw_u_pyr(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)rows;
  LANES
  if (layer == 0 && lane < MW1) MW_MOVE(L(w->u_p), MC_AT(st, off + lane));
  if (layer == 1 && lane < MW2) MW_MOVE(L(w->u_o), MC_AT(st, off + lane));
  LANES_END
}
MW_FN void mw_forw_pyr(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)rows;
  LANES
  if (layer == 0 && lane < MW1) MW_MOVE(L(w->f_p), MC_AT(st, off + lane));
  if (layer == 1 && lane < MW2) MW_MOVE(L(w->f_o), MC_AT(st, off + lane));
  LANES_END
}
MW_FN void mw_u_inn(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)rows;
  (void)layer;
  LANES
  if (lane < MW2) MW_MOVE(L(w->u_i), MC_AT(st, off + lane));
  LANES_END
}
MW_FN void mw_forw_inn(McWarp *w, float *rows, McView st, int off, int layer, int load) {
  (void)rows;
  (void)layer;
  LANES
  if (lane < MW2) MW_MOVE(L(w->f_i), MC_AT(st, off + lane));
  LANES_END
}
/* The poisson network's fields: the warp kernel runs rate cohorts only (mw_fits), which
 * never touch them; the device keeps them as loaded and state_get returns them as they were. */
#define MW_UNUSED_FIELD(member)                                                                    \
  MW_FN void mw_##member(McWarp *w, float *rows, McView st, int off, int layer, int load) {        \
    (void)w, (void)rows, (void)st, (void)off, (void)layer, (void)load;                             \
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
MW_FN int mw_any_nonfinite(const McWarp *w, const float *rows) {
  int shared = !isfinite(w->nudge_last);
  UNROLL for (int j = 0; j < MW0; j++) shared |= !isfinite(w->r_in[j]);
  UNROLL for (int j = 0; j < MW2; j++) shared |= !isfinite(w->u_tgt[j]) | !isfinite(w->tgt_last[j]);
  LV(int, bad);
  LANES
  L(bad) = 0;
  if (lane < MW1) {
    UNROLL for (int j = 0; j < MW0; j++) L(bad) |= !isfinite(LX(w->w_up, j));
    UNROLL for (int j = 0; j < MW2; j++) L(bad) |=
        !isfinite(LX(w->w_down, j)) | !isfinite(LX(w->w_pi, j));
    L(bad) |= !isfinite(L(w->u_p)) | !isfinite(L(w->f_p));
  }
  if (lane < MW2) {
    for (int j = 0; j < MW1; j++)
      L(bad) |=
          !isfinite(MW_W_IP(rows)[lane * MW1 + j]) | !isfinite(MW_W_OUT(rows)[lane * MW1 + j]);
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
MW_FN void mw_transfer(McWarp *w, float *rows, McView st, const McLayout *lay, int load) {
  const McLayerOffsets *h = &lay->layer[0], *o = &lay->layer[1];
#define MW_HIDDEN(member, ...) mw_##member(w, rows, st, h->member, 0, load);
  MC_LAYER_FIELDS(MW_HIDDEN)
#undef MW_HIDDEN
#define MW_OUTPUT(member, label, n_rows, n_cols, kind, hidden_only, reset, help)                   \
  if (!(hidden_only)) mw_##member(w, rows, st, o->member, 1, load);
  MC_LAYER_FIELDS(MW_OUTPUT)
#undef MW_OUTPUT
#define MW_FIELD(member, ...) mw_##member(w, st, lay->member, load);
  MC_GLOBAL_FIELDS(MW_FIELD)
#undef MW_FIELD
}

/* Every lane's every value zero, so that lanes past the network's neurons never hold
 * undefined values (a functional simulator refuses to read them; a GPU would not care). */
MW_FN void mw_clear(McWarp *w) {
  // clang-format off
  LANES
  (void)lane;
  // clang-format on
  UNROLL for (int j = 0; j < MW0; j++) LX(w->w_up, j) = 0.0f;
  UNROLL for (int j = 0; j < MW2; j++) LX(w->w_down, j) = LX(w->w_pi, j) = 0.0f;
  L(w->u_p) = L(w->f_p) = L(w->r_p) = L(w->u_i) = L(w->f_i) = L(w->r_i) = 0.0f;
  L(w->u_o) = L(w->f_o) = L(w->r_o) = L(w->acc) = 0.0f;
  L(w->v_bas) = L(w->v_api) = L(w->v_den) = L(w->v_out) = 0.0f;
  L(w->nr_p) = L(w->nr_i) = L(w->nr_o) = 0.0f;
  LANES_END
  UNROLL for (int j = 0; j < MW0; j++) w->r_in[j] = 0.0f;
  UNROLL for (int j = 0; j < MW2; j++) w->u_tgt[j] = w->tgt_last[j] = 0.0f;
  w->nudge_last = w->diverged = w->api_sum = w->inn_sum = 0.0f;
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

/* ---- the step -------------------------------------------------------------------------- */

/* One time step (mc_body_step's order). */
MW_FN void mw_step(McWarp *w, float *rows, const float *x, int y, const McConst *k, int learn,
                   float nudge_now, int step_in_sample, int track) {
  /* 1. inputs and targets */
  UNROLL for (int j = 0; j < MW0; j++) w->r_in[j] = mc_lowpass(w->r_in[j], x[j], k->k_in);
  UNROLL for (int j = 0; j < MW2; j++) w->u_tgt[j] =
      mc_lowpass(w->u_tgt[j], j == y ? k->u_high : k->u_low, k->k_in);

  /* 2. the previous step's rates, to every lane */
  float rp[MW1], ri[MW2], ro[MW2];
  UNROLL for (int i = 0; i < MW1; i++) rp[i] = FROM(w->r_p, i);
  UNROLL for (int j = 0; j < MW2; j++) {
    ri[j] = FROM(w->r_i, j);
    ro[j] = FROM(w->r_o, j);
  }

  /* 3. dendrites */
  LANES
  if (lane < MW1) {
    float vb = 0.0f, va = 0.0f, vt = 0.0f;
    UNROLL for (int j = 0; j < MW0; j++) vb = fmaf(LX(w->w_up, j), w->r_in[j], vb);
    UNROLL for (int j = 0; j < MW2; j++) va = fmaf(LX(w->w_down, j), ro[j], va);
    UNROLL for (int j = 0; j < MW2; j++) vt = fmaf(LX(w->w_pi, j), ri[j], vt);
    L(w->v_bas) = vb;
    L(w->v_api) = va + vt;
  }
  if (lane < MW2) {
    float vd = 0.0f, vo = 0.0f;
    const float *wi = MW_W_IP(rows) + lane * MW1, *wo = MW_W_OUT(rows) + lane * MW1;
    UNROLL for (int i = 0; i < MW1; i++) {
      vd = fmaf(wi[i], rp[i], vd);
      vo = fmaf(wo[i], rp[i], vo);
    }
    L(w->v_den) = vd;
    L(w->v_out) = vo;
  }
  LANES_END

  if (track) { /* self-prediction errors, summed in the body's order */
    float api = 0.0f, inn = 0.0f;
    UNROLL for (int i = 0; i < MW1; i++) {
      float v = FROM(w->v_api, i);
      api = fmaf(v, v, api);
    }
    UNROLL for (int j = 0; j < MW2; j++) {
      float diff = ri[j] - ro[j];
      inn = fmaf(diff, diff, inn);
    }
    w->api_sum += sqrtf(api);
    w->inn_sum += inn / (float)MW2;
  }

  LANES
  if (lane < MW2) { /* interneuron: nudged by its sister's previous potential */
    float udot = mc_interneuron_udot(L(w->u_i), L(w->v_den), mc_shown(k->le, L(w->u_o), L(w->f_o)),
                                     k->gb, k->gsom, k->g_inn);
    McSoma n =
        mc_soma_advance(L(w->u_i), udot, k->dt, k->tau_inn, k->le, k->gamma, k->beta, k->theta);
    L(w->nr_i) = n.rate;
    L(w->f_i) = n.forw;
    L(w->u_i) = n.u;
    if (learn && k->c_ip[0] != 0.0f) {
      float g = k->c_ip[0] *
                mc_dendritic_error(n.rate, k->alpha_inn, L(w->v_den), k->gamma, k->beta, k->theta);
      float *wi = MW_W_IP(rows) + lane * MW1;
      UNROLL for (int i = 0; i < MW1; i++) wi[i] = mc_weight_step(wi[i], g, rp[i]);
    }
  }
  if (lane < MW1) { /* hidden pyramid */
    float udot = mc_pyramid_udot(L(w->u_p), L(w->v_bas), L(w->v_api), k->gb, k->ga, k->g_pyr);
    McSoma n =
        mc_soma_advance(L(w->u_p), udot, k->dt, k->tau_pyr, k->le, k->gamma, k->beta, k->theta);
    L(w->nr_p) = n.rate;
    L(w->f_p) = n.forw;
    L(w->u_p) = n.u;
    if (learn) {
      float g = k->c_up[0] *
                mc_dendritic_error(n.rate, k->alpha_pyr, L(w->v_bas), k->gamma, k->beta, k->theta);
      UNROLL for (int j = 0; j < MW0; j++) LX(w->w_up, j) =
          mc_weight_step_clipped(LX(w->w_up, j), g, w->r_in[j], k->w_max_h);
      if (k->c_pi[0] != 0.0f) {
        float g2 = k->c_pi[0] * -L(w->v_api); /* eq. 2.15 */
        UNROLL for (int j = 0; j < MW2; j++) LX(w->w_pi, j) =
            mc_weight_step(LX(w->w_pi, j), g2, ri[j]);
      }
    }
  }
  if (lane < MW2) { /* output: the target nudges the soma (one step late under LE) */
    float udot =
        mc_output_udot(L(w->u_o), L(w->v_out), mc_le_delayed(k->le, w->nudge_last, nudge_now),
                       mc_le_delayed(k->le, w->tgt_last[lane], w->u_tgt[lane]), k->gb, k->gsom,
                       k->g_out, k->g_free);
    McSoma n =
        mc_soma_advance(L(w->u_o), udot, k->dt, k->tau_out, k->le, k->gamma, k->beta, k->theta);
    L(w->nr_o) = n.rate;
    L(w->f_o) = n.forw;
    L(w->u_o) = n.u;
    if (learn) {
      float g = k->c_up[1] *
                mc_dendritic_error(n.rate, k->alpha_out, L(w->v_out), k->gamma, k->beta, k->theta);
      float *wo = MW_W_OUT(rows) + lane * MW1;
      UNROLL for (int i = 0; i < MW1; i++) wo[i] =
          mc_weight_step_clipped(wo[i], g, rp[i], k->w_max_o);
    }
    L(w->acc) = mc_readout(L(w->acc), (float)step_in_sample, k->lag, mc_shown(k->le, n.u, n.forw),
                           k->readout_n);
  }
  LANES_END

  LANES
  if (lane < MW1) L(w->r_p) = L(w->nr_p);
  if (lane < MW2) {
    L(w->r_i) = L(w->nr_i);
    L(w->r_o) = L(w->nr_o);
  }
  LANES_END
  UNROLL for (int j = 0; j < MW2; j++) w->tgt_last[j] = w->u_tgt[j];
  w->nudge_last = nudge_now;
}

/* One sample (mc_body_sample). */
MW_FN int mw_sample(McWarp *w, float *rows, const McConst *k, const float *x, int y, int t_pres,
                    int learn, int learn_lag, int nudge, int track, int reset, float *sq_err) {
  LANES
  if (lane < MW2) L(w->acc) = 0.0f;
  if (reset) { /* the fields with the reset flag: the potentials */
    if (lane < MW1) L(w->u_p) = L(w->f_p) = 0.0f;
    if (lane < MW2) L(w->u_i) = L(w->f_i) = L(w->u_o) = L(w->f_o) = 0.0f;
  }
  LANES_END
  if (reset) mw_refresh(w, k);
  for (int t = 0; t < t_pres; t++)
    mw_step(w, rows, x, y, k, learn && t >= learn_lag, nudge ? 1.0f : 0.0f, t, track);
  int best = 0;
  float e = 0.0f, best_a = FROM(w->acc, 0);
  UNROLL for (int j = 0; j < MW2; j++) {
    float a = FROM(w->acc, j), t = j == y ? k->u_high : k->u_low;
    if (a > best_a) {
      best = j;
      best_a = a;
    }
    e += (a - t) * (a - t);
  }
  *sq_err = e;
  return best == y;
}

/* Records e0 .. e1-1 of one replica (mc_body_records), state in and out through st; the
 * series of record e go to out + (e - col0) * width. rows: 2 MW2 MW1 floats for the
 * interneuron and output weights (shared memory on the GPU). */
MW_FN void mw_records(McView st, const McLayout *lay, const McConst *k, const McSched *sch,
                      const ApData *data, int e0, int e1, float *out, int col0, int width,
                      float *rows) {
  McWarp w;
  mw_clear(&w);
  const McSeriesOffsets *so = &lay->ser;
  mw_transfer(&w, rows, st, lay, 1);
  mw_refresh(&w, k);
  uint32_t perm[MW_MAX_SAMPLES];
  for (int e = e0; e < e1; e++) {
    float *o = out + (size_t)(e - col0) * (size_t)width;
    if (w.diverged != 0.0f) { /* frozen at its first non-finite state (mc_body_records) */
      mw_frozen_series(o, so, width);
      continue;
    }
    float train_hits = 0, val_hits = 0, val_err = 0, err;
    w.api_sum = w.inn_sum = 0.0f;
    for (int phase = 0; phase < 2; phase++) {
      int n = phase ? data->n_val : data->n_train, shown = phase ? sch->n_val : data->n_train;
      if (shown == 0) continue;
      ap_sample_order(perm, 1, (uint32_t)n, k->seed, (uint32_t)e, (uint32_t)phase);
      const float *xs = phase ? data->x_val : data->x_train;
      const int *ys = phase ? data->y_val : data->y_train;
      for (int s = 0; s < shown; s++) {
        uint32_t idx = perm[s];
        int hit = mw_sample(&w, rows, k, xs + (size_t)idx * MW0, ys[idx], sch->t_pres,
                            phase ? 0 : sch->learn, sch->learn_lag, phase ? 0 : sch->teacher,
                            !phase, sch->reset, &err);
        if (phase) {
          val_hits += (float)hit;
          val_err += err;
        } else {
          train_hits += (float)hit;
        }
      }
    }
    /* the test phase (mc_body_records): every held-out sample in order, from a copy of
     * the state put back afterwards; the weights do not move without learning */
    float test_hits = 0, test_err = 0;
    const int test = mc_test_due(sch, e);
    if (test) {
      McWarp keep = w;
      for (int s = 0; s < sch->n_test; s++) {
        test_hits += (float)mw_sample(&w, rows, k, data->x_val + (size_t)s * MW0, data->y_val[s],
                                      sch->t_pres, 0, 0, 0, 0, sch->reset, &err);
        test_err += err;
      }
      w = keep;
    }
    /* the weight errors of the self-predicting state, in the body's order */
    double ff = 0, fb = 0;
    WARP_SYNC(); /* every lane reads the rows the k lanes wrote */
    for (int i = 0; i < MW2 * MW1; i++) {
      float a = MW_W_IP(rows)[i] - k->rho[0] * MW_W_OUT(rows)[i];
      ff += (double)a * (double)a;
    }
    WARP_SYNC(); /* before any lane writes its rows again */
    UNROLL for (int i = 0; i < MW1; i++) UNROLL for (int j = 0; j < MW2; j++) {
      float q = FROMX(w.w_pi, j, i) + FROMX(w.w_down, j, i);
      fb += (double)q * (double)q;
    }
    float steps = (float)data->n_train * (float)sch->t_pres;
    o[so->train_acc] = train_hits / (float)data->n_train;
    o[so->val_acc] = sch->n_val > 0 ? val_hits / (float)sch->n_val : NAN;
    o[so->val_mse] = sch->n_val > 0 ? val_err / ((float)sch->n_val * (float)MW2) : NAN;
    o[so->test_acc] = test ? test_hits / (float)sch->n_test : NAN;
    o[so->test_mse] = test ? test_err / ((float)sch->n_test * (float)MW2) : NAN;
    o[so->api_err] = w.api_sum / steps;
    o[so->inn_err] = w.inn_sum / steps;
    o[so->ff_err] = (float)(ff / (MW1 * MW2));
    o[so->fb_err] = (float)(fb / (MW1 * MW2));
    o[so->diverged] = 0.0f;
    if (mw_any_nonfinite(&w, rows)) {
      w.diverged = (float)(e + 1);
      mw_frozen_series(o, so, width);
    }
  }
  mw_transfer(&w, rows, st, lay, 0);
}

/* The warp version runs this network, neuron type and sample set. */
AP_HD int mw_fits(const McDims *d, int neuron, const ApData *data) {
  return d->n_layers == 2 && d->n[0] == MW0 && d->n[1] == MW1 && d->n[2] == MW2 &&
         neuron == MC_RATE && data->n_train <= MW_MAX_SAMPLES && data->n_val <= MW_MAX_SAMPLES;
}

#endif
