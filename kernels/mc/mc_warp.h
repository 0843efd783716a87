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

/* One replica's network: per-lane registers and the values all lanes share. */
typedef struct McWarp {
  LARR(float, w_up, MW0);   /* hidden lane i: W_up[i][:] */
  LARR(float, w_down, MW2); /* hidden lane i: W_down[i][:] */
  LARR(float, w_pi, MW2);   /* hidden lane i: W_pi[i][:] */
  float *w_ip;              /* [MW2][MW1] W_ip; row k is lane k's (shared memory on the GPU) */
  float *w_out;             /* [MW2][MW1] output W_up; row k is lane k's */
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
  const float *x;                                         /* the sample's input */
  int y;                                                  /* and its class */
  float api_sum, inn_sum;                                 /* self-prediction sums of the epoch */
} McWarp;

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
  if (layer == 1 && lane < MW2)
    for (int j = 0; j < MW1; j++)
      MW_MOVE(w->w_out[lane * MW1 + j], MC_AT(st, off + lane * MW1 + j));
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
  if (lane < MW2)
    for (int j = 0; j < MW1; j++) MW_MOVE(w->w_ip[lane * MW1 + j], MC_AT(st, off + lane * MW1 + j));
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
/* the shared values: every lane loads them, lane 0 stores them */
#define MW_SHARED(body)                                                                            \
  if (load) {                                                                                      \
    body;                                                                                          \
  } else {                                                                                         \
    LANES if (lane == 0) { body; }                                                                 \
    LANES_END                                                                                      \
  }
MW_FN void mw_r_in(McWarp *w, McView st, int off, int load) {
  MW_SHARED(UNROLL for (int j = 0; j < MW0; j++) MW_MOVE(w->r_in[j], MC_AT(st, off + j)))
}
MW_FN void mw_u_tgt(McWarp *w, McView st, int off, int load) {
  MW_SHARED(UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(w->u_tgt[j], MC_AT(st, off + j)))
}
MW_FN void mw_u_tgt_last(McWarp *w, McView st, int off, int load) {
  MW_SHARED(UNROLL for (int j = 0; j < MW2; j++) MW_MOVE(w->tgt_last[j], MC_AT(st, off + j)))
}
MW_FN void mw_nudge_last(McWarp *w, McView st, int off,
                         int load){MW_SHARED(MW_MOVE(w->nudge_last, MC_AT(st, off)))}

/* Every field of the field list, in or out; a field without its function above does
 * not compile. Layer 0 is the hidden layer, layer 1 the output (no hidden-only fields):
 * layer, load and which fields exist are compile-time constants here, so every value
 * stays in registers (a runtime choice made nvcc spill the network to local memory). */
MW_FN void mw_transfer(McWarp *w, McView st, const McLayout *lay, int load) {
  const McLayerOffsets *h = &lay->layer[0], *o = &lay->layer[1];
#define MW_HIDDEN(member, ...) mw_##member(w, st, h->member, 0, load);
  MC_LAYER_FIELDS(MW_HIDDEN)
#undef MW_HIDDEN
#define MW_OUTPUT(member, label, rows, cols, kind, hidden_only, reset, help)                       \
  if (!(hidden_only)) mw_##member(w, st, o->member, 1, load);
  MC_LAYER_FIELDS(MW_OUTPUT)
#undef MW_OUTPUT
#define MW_FIELD(member, ...) mw_##member(w, st, lay->member, load);
  MC_GLOBAL_FIELDS(MW_FIELD)
#undef MW_FIELD
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
MW_FN void mw_step(McWarp *w, const McConst *k, int learn, float nudge_now, int step_in_sample,
                   int track) {
  /* 1. inputs and targets */
  UNROLL for (int j = 0; j < MW0; j++) w->r_in[j] = mc_lowpass(w->r_in[j], w->x[j], k->k_in);
  UNROLL for (int j = 0; j < MW2; j++) w->u_tgt[j] =
      mc_lowpass(w->u_tgt[j], j == w->y ? k->u_high : k->u_low, k->k_in);

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
    const float *wi = w->w_ip + lane * MW1, *wo = w->w_out + lane * MW1;
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
      float *wi = w->w_ip + lane * MW1;
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
      float *wo = w->w_out + lane * MW1;
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
MW_FN int mw_sample(McWarp *w, const McConst *k, const float *x, int y, int t_pres, int learn,
                    int nudge, int track, int reset, float *sq_err) {
  w->x = x;
  w->y = y;
  LANES
  if (lane < MW2) L(w->acc) = 0.0f;
  if (reset) { /* the fields with the reset flag: the potentials */
    if (lane < MW1) L(w->u_p) = L(w->f_p) = 0.0f;
    if (lane < MW2) L(w->u_i) = L(w->f_i) = L(w->u_o) = L(w->f_o) = 0.0f;
  }
  LANES_END
  if (reset) mw_refresh(w, k);
  for (int t = 0; t < t_pres; t++) mw_step(w, k, learn, nudge ? 1.0f : 0.0f, t, track);
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
  McWarp w = {0}; /* lanes past the network's neurons hold zeros, never undefined values */
  const McSeriesOffsets *so = &lay->ser;
  w.w_ip = rows;
  w.w_out = rows + MW2 * MW1;
  mw_transfer(&w, st, lay, 1);
  mw_refresh(&w, k);
  uint32_t perm[MW_MAX_SAMPLES];
  for (int e = e0; e < e1; e++) {
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
        int hit =
            mw_sample(&w, k, xs + (size_t)idx * MW0, ys[idx], sch->t_pres, phase ? 0 : sch->learn,
                      phase ? 0 : sch->teacher, !phase, sch->reset, &err);
        if (phase) {
          val_hits += (float)hit;
          val_err += err;
        } else {
          train_hits += (float)hit;
        }
      }
    }
    /* the weight errors of the self-predicting state, in the body's order */
    double ff = 0, fb = 0;
    WARP_SYNC(); /* every lane reads the rows the k lanes wrote */
    for (int i = 0; i < MW2 * MW1; i++) {
      float a = w.w_ip[i] - k->rho[0] * w.w_out[i];
      ff += (double)a * (double)a;
    }
    WARP_SYNC(); /* before any lane writes its rows again */
    UNROLL for (int i = 0; i < MW1; i++) UNROLL for (int j = 0; j < MW2; j++) {
      float q = FROMX(w.w_pi, j, i) + FROMX(w.w_down, j, i);
      fb += (double)q * (double)q;
    }
    float *o = out + (size_t)(e - col0) * (size_t)width;
    float steps = (float)data->n_train * (float)sch->t_pres;
    o[so->train_acc] = train_hits / (float)data->n_train;
    o[so->val_acc] = sch->n_val > 0 ? val_hits / (float)sch->n_val : NAN;
    o[so->val_mse] = sch->n_val > 0 ? val_err / ((float)sch->n_val * (float)MW2) : NAN;
    o[so->api_err] = w.api_sum / steps;
    o[so->inn_err] = w.inn_sum / steps;
    o[so->ff_err] = (float)(ff / (MW1 * MW2));
    o[so->fb_err] = (float)(fb / (MW1 * MW2));
  }
  mw_transfer(&w, st, lay, 0);
}

/* The warp version runs this network and sample set. */
AP_HD int mw_fits(const McDims *d, const ApData *data) {
  return d->n_layers == 2 && d->n[0] == MW0 && d->n[1] == MW1 && d->n[2] == MW2 &&
         data->n_train <= MW_MAX_SAMPLES && data->n_val <= MW_MAX_SAMPLES;
}

#endif
