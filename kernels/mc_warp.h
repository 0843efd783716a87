/* The microcircuit with one replica per warp: lane i is hidden pyramid i, lane k is also
 * interneuron k and output neuron k. The hidden neurons' weights live in the registers of
 * their lane; the interneurons' and outputs' rows (MW2 x MW1 each) in shared memory, where
 * lane k reads and writes its own rows (the CUDA backend's "warp" kernel, for one hidden
 * layer of at most 32 neurons and at most 32 outputs; sizes fixed at compile time:
 * MW0-MW1-MW2).
 *
 * Written once for two machines. Under nvcc's device pass a "lane value" is a register of
 * the thread and FROM() is a warp shuffle. Everywhere else (the CPU tests) a lane value is
 * an array over the 32 lanes, a LANES block is a loop over them, and FROM() reads another
 * lane's element, so tests/test_warp.c runs this very code against the CPU backend. The
 * rules that make both readings agree: a LANES block reads other lanes' values only
 * through variables it does not write, shuffles sit outside LANES blocks (where every
 * lane takes part), and values all lanes share are plain variables computed the same way
 * by each lane.
 *
 * The arithmetic, its order included, is the CPU backend's (sums run over the presynaptic
 * index in ascending order; fmaf where it uses fmaf), so results match it bit for bit. */
#ifndef MC_WARP_H
#define MC_WARP_H

#include "mc_replica.h"

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
#define LANES {                                                                     \
  const int lane = (int)(threadIdx.x & 31u);
#define LANES_END }
#define FROM(name, src) __shfl_sync(0xffffffffu, (name), (src))
#define FROMX(name, j, src) __shfl_sync(0xffffffffu, (name)[j], (src))
#define MW_FN __device__ __forceinline__
#define UNROLL _Pragma("unroll")
#define WARP_SYNC() __syncwarp()
#else
#define WARP_SYNC() ((void)0)
#define LV(type, name) type name[32]
#define LARR(type, name, n) type name[32][n]
#define L(name) ((name)[lane])
#define LX(name, j) ((name)[lane][j])
#define LANES for (int lane = 0; lane < 32; lane++) {
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

/* One replica's network: per-lane registers and the values all lanes share. */
typedef struct McWarp {
  LARR(float, w_up, MW0);   /* hidden lane i: W_up[i][:] */
  LARR(float, w_down, MW2); /* hidden lane i: W_down[i][:] */
  LARR(float, w_pi, MW2);   /* hidden lane i: W_pi[i][:] */
  float *w_ip;  /* [MW2][MW1] W_ip; row k is lane k's (shared memory on the GPU) */
  float *w_out; /* [MW2][MW1] output W_up; row k is lane k's */
  LV(float, u_p); LV(float, f_p); LV(float, r_p); /* hidden pyramid: u, ŭ, transmitted rate */
  LV(float, u_i); LV(float, f_i); LV(float, r_i); /* interneuron k */
  LV(float, u_o); LV(float, f_o); LV(float, r_o); /* output k */
  LV(float, acc);                                   /* output k: readout sum of the sample */
  LV(float, v_bas); LV(float, v_api); LV(float, v_den); LV(float, v_out);
  LV(float, nr_p); LV(float, nr_i); LV(float, nr_o); /* next step's rates */
  float r_in[MW0], u_tgt[MW2], tgt_last[MW2], nudge_last; /* shared */
  const float *x;                                         /* the sample's input */
  int y;                                                  /* and its class */
  float api_sum, inn_sum;                                 /* self-prediction sums of the epoch */
} McWarp;

MW_FN float mw_rate(const McConst *k, float u, float forw) {
  return mc_phi(k->le != 0.0f ? forw : u, k->gamma, k->beta, k->theta);
}

MW_FN void mw_load(McWarp *w, McView st, const McLayout *lay, const McConst *k) {
  const McLayerOffsets *h = &lay->layer[0], *o = &lay->layer[1];
  LANES
  if (lane < MW1) {
    UNROLL for (int j = 0; j < MW0; j++) LX(w->w_up, j) = MC_AT(st, h->w_up + lane * MW0 + j);
    UNROLL for (int j = 0; j < MW2; j++) {
      LX(w->w_down, j) = MC_AT(st, h->w_down + lane * MW2 + j);
      LX(w->w_pi, j) = MC_AT(st, h->w_pi + lane * MW2 + j);
    }
    L(w->u_p) = MC_AT(st, h->u_pyr + lane);
    L(w->f_p) = MC_AT(st, h->forw_pyr + lane);
    L(w->r_p) = mw_rate(k, L(w->u_p), L(w->f_p));
  }
  if (lane < MW2) {
    for (int j = 0; j < MW1; j++) {
      w->w_ip[lane * MW1 + j] = MC_AT(st, h->w_ip + lane * MW1 + j);
      w->w_out[lane * MW1 + j] = MC_AT(st, o->w_up + lane * MW1 + j);
    }
    L(w->u_i) = MC_AT(st, h->u_inn + lane);
    L(w->f_i) = MC_AT(st, h->forw_inn + lane);
    L(w->r_i) = mw_rate(k, L(w->u_i), L(w->f_i));
    L(w->u_o) = MC_AT(st, o->u_pyr + lane);
    L(w->f_o) = MC_AT(st, o->forw_pyr + lane);
    L(w->r_o) = mw_rate(k, L(w->u_o), L(w->f_o));
  }
  LANES_END
  UNROLL for (int j = 0; j < MW0; j++) w->r_in[j] = MC_AT(st, lay->r_in + j);
  UNROLL for (int j = 0; j < MW2; j++) {
    w->u_tgt[j] = MC_AT(st, lay->u_tgt + j);
    w->tgt_last[j] = MC_AT(st, lay->u_tgt_last + j);
  }
  w->nudge_last = MC_AT(st, lay->nudge_last);
}

/* Writes the state back (on the GPU each lane its own neurons, lane 0 the shared part). */
MW_FN void mw_store(const McWarp *w, McView st, const McLayout *lay) {
  const McLayerOffsets *h = &lay->layer[0], *o = &lay->layer[1];
  LANES
  if (lane < MW1) {
    UNROLL for (int j = 0; j < MW0; j++) MC_AT(st, h->w_up + lane * MW0 + j) = LX(w->w_up, j);
    UNROLL for (int j = 0; j < MW2; j++) {
      MC_AT(st, h->w_down + lane * MW2 + j) = LX(w->w_down, j);
      MC_AT(st, h->w_pi + lane * MW2 + j) = LX(w->w_pi, j);
    }
    MC_AT(st, h->u_pyr + lane) = L(w->u_p);
    MC_AT(st, h->forw_pyr + lane) = L(w->f_p);
  }
  if (lane < MW2) {
    for (int j = 0; j < MW1; j++) {
      MC_AT(st, h->w_ip + lane * MW1 + j) = w->w_ip[lane * MW1 + j];
      MC_AT(st, o->w_up + lane * MW1 + j) = w->w_out[lane * MW1 + j];
    }
    MC_AT(st, h->u_inn + lane) = L(w->u_i);
    MC_AT(st, h->forw_inn + lane) = L(w->f_i);
    MC_AT(st, o->u_pyr + lane) = L(w->u_o);
    MC_AT(st, o->forw_pyr + lane) = L(w->f_o);
  }
  if (lane == 0) {
    UNROLL for (int j = 0; j < MW0; j++) MC_AT(st, lay->r_in + j) = w->r_in[j];
    UNROLL for (int j = 0; j < MW2; j++) {
      MC_AT(st, lay->u_tgt + j) = w->u_tgt[j];
      MC_AT(st, lay->u_tgt_last + j) = w->tgt_last[j];
    }
    MC_AT(st, lay->nudge_last) = w->nudge_last;
  }
  LANES_END
}

/* One time step (mc_r_step's order). */
MW_FN void mw_step(McWarp *w, const McConst *k, int learn, float nudge_now, int step_in_sample,
                   int track) {
  /* 1. inputs and targets */
  UNROLL for (int j = 0; j < MW0; j++) w->r_in[j] = mc_lowpass(w->r_in[j], w->x[j], k->k_in);
  UNROLL for (int j = 0; j < MW2; j++)
    w->u_tgt[j] = mc_lowpass(w->u_tgt[j], j == w->y ? k->u_high : k->u_low, k->k_in);

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

  if (track) { /* self-prediction errors, summed in the CPU backend's order */
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
    float u_next = k->le != 0.0f ? L(w->f_o) : L(w->u_o);
    float ss = mc_steady_state(k->gb, L(w->v_den), k->gsom, u_next, k->g_inn);
    McSoma n = mc_soma_advance(L(w->u_i), mc_udot(k->g_inn, ss, L(w->u_i)), k->dt, k->tau_inn, k->le,
                               k->gamma, k->beta, k->theta);
    L(w->nr_i) = n.rate;
    L(w->f_i) = n.forw;
    L(w->u_i) = n.u;
    if (learn && k->c_ip[0] != 0.0f) {
      float g = k->c_ip[0] * mc_dendritic_error(n.rate, k->alpha_inn, L(w->v_den), k->gamma, k->beta, k->theta);
      float *wi = w->w_ip + lane * MW1;
      UNROLL for (int i = 0; i < MW1; i++) wi[i] = mc_weight_step(wi[i], g, rp[i]);
    }
  }
  if (lane < MW1) { /* hidden pyramid */
    float ss = mc_steady_state(k->gb, L(w->v_bas), k->ga, L(w->v_api), k->g_pyr);
    McSoma n = mc_soma_advance(L(w->u_p), mc_udot(k->g_pyr, ss, L(w->u_p)), k->dt, k->tau_pyr, k->le,
                               k->gamma, k->beta, k->theta);
    L(w->nr_p) = n.rate;
    L(w->f_p) = n.forw;
    L(w->u_p) = n.u;
    if (learn) {
      float g = k->c_up[0] * mc_dendritic_error(n.rate, k->alpha_pyr, L(w->v_bas), k->gamma, k->beta, k->theta);
      UNROLL for (int j = 0; j < MW0; j++)
        LX(w->w_up, j) = mc_clip(mc_weight_step(LX(w->w_up, j), g, w->r_in[j]), k->w_max_h);
      if (k->c_pi[0] != 0.0f) {
        float g2 = k->c_pi[0] * -L(w->v_api); /* eq. 2.15 */
        UNROLL for (int j = 0; j < MW2; j++) LX(w->w_pi, j) = mc_weight_step(LX(w->w_pi, j), g2, ri[j]);
      }
    }
  }
  if (lane < MW2) { /* output: the target nudges the soma (one step late under LE) */
    float nudge = k->le != 0.0f ? w->nudge_last : nudge_now;
    float tgt = k->le != 0.0f ? w->tgt_last[lane] : w->u_tgt[lane];
    float ss = nudge != 0.0f ? mc_steady_state(k->gb, L(w->v_out), k->gsom, tgt, k->g_out)
                             : mc_steady_state(k->gb, L(w->v_out), 0.0f, 0.0f, k->g_free);
    McSoma n = mc_soma_advance(L(w->u_o), mc_udot(k->g_out, ss, L(w->u_o)), k->dt, k->tau_out, k->le,
                               k->gamma, k->beta, k->theta);
    L(w->nr_o) = n.rate;
    L(w->f_o) = n.forw;
    L(w->u_o) = n.u;
    if (learn) {
      float g = k->c_up[1] * mc_dendritic_error(n.rate, k->alpha_out, L(w->v_out), k->gamma, k->beta, k->theta);
      float *wo = w->w_out + lane * MW1;
      UNROLL for (int i = 0; i < MW1; i++) wo[i] = mc_clip(mc_weight_step(wo[i], g, rp[i]), k->w_max_o);
    }
    float gate = (float)step_in_sample >= k->lag ? 1.0f : 0.0f;
    L(w->acc) = fmaf(gate, (k->le != 0.0f ? n.forw : n.u) / k->readout_n, L(w->acc));
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

/* One sample (mc_r_sample). */
MW_FN int mw_sample(McWarp *w, const McConst *k, const float *x, int y, int t_pres, int learn,
                    int nudge, int track, int reset, float *sq_err) {
  w->x = x;
  w->y = y;
  LANES
  if (lane < MW2) L(w->acc) = 0.0f;
  if (reset) {
    if (lane < MW1) {
      L(w->u_p) = L(w->f_p) = 0.0f;
      L(w->r_p) = mw_rate(k, 0.0f, 0.0f);
    }
    if (lane < MW2) {
      L(w->u_i) = L(w->f_i) = L(w->u_o) = L(w->f_o) = 0.0f;
      L(w->r_i) = L(w->r_o) = mw_rate(k, 0.0f, 0.0f);
    }
  }
  LANES_END
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

/* Epochs e0 .. e1-1 of one replica (mc_r_epochs), state in and out through st. rows:
 * 2 MW2 MW1 floats for the interneuron and output weights (shared memory on the GPU). */
MW_FN void mw_epochs(McView st, const McLayout *lay, const McConst *k, const McSchedule *sch,
                     const McData *data, int e0, int e1, McMetrics *m, int row, int col0,
                     float *rows) {
  McWarp w;
  w.w_ip = rows;
  w.w_out = rows + MW2 * MW1;
  mw_load(&w, st, lay, k);
  uint32_t perm[MW_MAX_SAMPLES];
  for (int e = e0; e < e1; e++) {
    float train_hits = 0, val_hits = 0, val_err = 0, err;
    w.api_sum = w.inn_sum = 0.0f;
    for (int phase = 0; phase < 2; phase++) {
      int n = phase ? data->n_valset : data->n_train, shown = phase ? sch->n_val : data->n_train;
      if (shown == 0) continue;
      ap_sample_order(perm, (uint32_t)n, k->seed, (uint32_t)e, (uint32_t)phase);
      const float *xs = phase ? data->x_val : data->x_train;
      const int *ys = phase ? data->y_val : data->y_train;
      for (int s = 0; s < shown; s++) {
        uint32_t idx = perm[s];
        int hit = mw_sample(&w, k, xs + (size_t)idx * MW0, ys[idx], sch->t_pres, phase ? 0 : sch->learn,
                            phase ? 0 : sch->teacher, !phase, sch->reset_between_samples, &err);
        if (phase) {
          val_hits += (float)hit;
          val_err += err;
        } else {
          train_hits += (float)hit;
        }
      }
    }
    /* the weight errors of the self-predicting state, in the CPU backend's order */
    double ff = 0, fb = 0;
    WARP_SYNC(); /* every lane reads the rows the k lanes wrote */
    for (int i = 0; i < MW2 * MW1; i++) {
      float a = w.w_ip[i] - k->rho[0] * w.w_out[i];
      ff += (double)a * (double)a;
    }
    WARP_SYNC(); /* before any lane writes its rows again */
    UNROLL for (int i = 0; i < MW1; i++)
      UNROLL for (int j = 0; j < MW2; j++) {
        float q = FROMX(w.w_pi, j, i) + FROMX(w.w_down, j, i);
        fb += (double)q * (double)q;
      }
    size_t re = (size_t)row * (size_t)m->n_epochs + (size_t)(e - col0);
    float steps = (float)data->n_train * (float)sch->t_pres;
    m->train_acc[re] = train_hits / (float)data->n_train;
    m->val_acc[re] = sch->n_val > 0 ? val_hits / (float)sch->n_val : NAN;
    m->val_mse[re] = sch->n_val > 0 ? val_err / ((float)sch->n_val * (float)MW2) : NAN;
    m->api_err[re] = w.api_sum / steps;
    m->inn_err[re] = w.inn_sum / steps;
    m->ff_err[re] = (float)(ff / (MW1 * MW2));
    m->fb_err[re] = (float)(fb / (MW1 * MW2));
  }
  mw_store(&w, st, lay);
}

#endif
