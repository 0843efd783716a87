/* The microcircuit for ONE replica, written once for every backend that works replica by
 * replica: the CUDA backend's generic kernel runs it with one thread per replica, and the
 * CPU tests run it replica after replica to check that kernel's logic against the CPU
 * backend without a GPU. The order of operations is the CPU backend's (kernels/cpu/
 * mc_cpu.c, block_step), so both give the same numbers; the equations themselves live in
 * mc_equations.h.
 *
 * Memory is strided: element e of a replica's array lives at base[e * stride] (stride =
 * the number of replicas in the CUDA layout, so that a warp's loads coalesce). */
#ifndef MC_REPLICA_H
#define MC_REPLICA_H

#include "ap_rng.h"
#include "mc_equations.h"
#include "mc_model.h"

/* Constants derived from a replica's McParams once per run. */
typedef struct McConst {
  float k_in, dt, gb, ga, gsom;        /* k_in = dt / tau0 */
  float g_pyr, tau_pyr, alpha_pyr;     /* hidden pyramidal: gl + gb + ga */
  float g_inn, tau_inn, alpha_inn;     /* interneuron: gl + gb + gsom, attenuation gb/(gl+gb) */
  float g_out, tau_out, g_free, alpha_out; /* output with / without target */
  float c_up[MC_MAX_LAYERS], c_ip[MC_MAX_LAYERS], c_pi[MC_MAX_LAYERS]; /* dt η */
  float w_max_h, w_max_o;
  float gamma, beta, theta;
  float le;               /* 1: latent equilibrium */
  float lag, readout_n;   /* out_lag, t_pres - out_lag */
  float u_high, u_low;
  float rho[MC_MAX_LAYERS]; /* self-prediction scale per hidden layer */
  uint64_t seed;
} McConst;

AP_HD void mc_const_init(McConst *k, const McParams *q, int t_pres, int n_hidden) {
  k->k_in = (float)(q->dt / q->tau0);
  k->dt = (float)q->dt;
  k->gb = (float)q->gb;
  k->ga = (float)q->ga;
  k->gsom = (float)q->gsom;
  k->g_pyr = (float)(q->gl + q->gb + q->ga);
  k->tau_pyr = (float)(1.0 / (q->gl + q->gb + q->ga));
  k->alpha_pyr = (float)(q->gb / (q->gl + q->gb + q->ga));
  k->g_inn = (float)(q->gl + q->gb + q->gsom);
  k->tau_inn = (float)(1.0 / (q->gl + q->gb + q->gsom));
  k->alpha_inn = (float)(q->gb / (q->gl + q->gb));
  k->g_out = (float)(q->gl + q->gb + q->gsom);
  k->tau_out = (float)(1.0 / (q->gl + q->gb + q->gsom));
  k->g_free = (float)(q->gl + q->gb);
  k->alpha_out = (float)(q->gb / (q->gl + q->gb));
  for (int ly = 0; ly < MC_MAX_LAYERS; ly++) {
    k->c_up[ly] = ly <= n_hidden ? (float)(q->dt * q->eta_up[ly]) : 0.0f;
    k->c_ip[ly] = ly < n_hidden ? (float)(q->dt * q->eta_ip[ly]) : 0.0f;
    k->c_pi[ly] = ly < n_hidden ? (float)(q->dt * q->eta_pi[ly]) : 0.0f;
    double ga_next = ly + 1 < n_hidden ? q->ga : 0.0;
    k->rho[ly] = ly < n_hidden ? (float)mc_selfpred_rho(q->gl, q->gb, ga_next, q->gd) : 0.0f;
  }
  k->w_max_h = (float)q->w_max_hidden;
  k->w_max_o = (float)q->w_max_out;
  k->gamma = (float)q->phi_gamma;
  k->beta = (float)q->phi_beta;
  k->theta = (float)q->phi_theta;
  k->le = q->variant == MC_LE ? 1.0f : 0.0f;
  k->lag = (float)q->out_lag;
  k->readout_n = (float)(t_pres - q->out_lag);
  k->u_high = (float)q->u_high;
  k->u_low = (float)q->u_low;
  k->seed = q->seed;
}

/* A strided array of one replica. */
typedef struct McView {
  float *base;
  size_t stride;
} McView;

#define MC_AT(v, e) ((v).base[(size_t)(e) * (v).stride])

/* Work memory of one replica (offsets in floats, strided like the state): the two rate
 * buffers, the dendritic potentials, and the readout sum. The sample order (uint32) has
 * its own strided array of n_samples entries. */
typedef struct McWork {
  int rate[2];               /* [n_rates]: transmitted rates, double-buffered */
  int rate_pyr[MC_MAX_LAYERS], rate_inn[MC_MAX_LAYERS]; /* offsets within a rate buffer */
  int v_bas, v_api, v_den, v_tmp, udot, err; /* [max neurons] */
  int u_next;                /* [max neurons] sister potentials of the current layer */
  int x, tgt, acc;           /* [N_0], [N_L], [N_L] */
  int api_sum, inn_sum;      /* [H] self-prediction sums of the epoch */
  int cur;                   /* [1] which rate buffer is current (0/1 as float) */
  int n_floats;
} McWork;

AP_HD void mc_work_init(McWork *w, const McLayout *lay) {
  const McDims *d = &lay->dims;
  int L = d->n_layers, n_rates = 0, m = 0;
  for (int l = 0; l <= L; l++) m = d->n[l] > m ? d->n[l] : m;
  for (int ly = 0; ly < L; ly++) {
    w->rate_pyr[ly] = n_rates;
    n_rates += d->n[ly + 1];
    w->rate_inn[ly] = n_rates;
    if (ly < L - 1) n_rates += d->n[ly + 2];
  }
  int off = 0;
  w->rate[0] = off, off += n_rates;
  w->rate[1] = off, off += n_rates;
  w->v_bas = off, off += m;
  w->v_api = off, off += m;
  w->v_den = off, off += m;
  w->v_tmp = off, off += m;
  w->udot = off, off += m;
  w->err = off, off += m;
  w->u_next = off, off += m;
  w->x = off, off += d->n[0];
  w->tgt = off, off += d->n[L];
  w->acc = off, off += d->n[L];
  w->api_sum = off, off += L;
  w->inn_sum = off, off += L;
  w->cur = off, off += 1;
  w->n_floats = off;
}

/* Rates from the stored potentials: φ(u) (original) or φ(ŭ) (LE). */
AP_HD void mc_r_refresh_rates(McView st, McView wk, const McLayout *lay, const McWork *w,
                              const McConst *k) {
  int cur = MC_AT(wk, w->cur) != 0.0f;
  for (int ly = 0; ly < lay->dims.n_layers; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    for (int i = 0; i < lay->dims.n[ly + 1]; i++) {
      float x = k->le != 0.0f ? MC_AT(st, o->forw_pyr + i) : MC_AT(st, o->u_pyr + i);
      MC_AT(wk, w->rate[cur] + w->rate_pyr[ly] + i) = mc_phi(x, k->gamma, k->beta, k->theta);
    }
    if (o->u_inn < 0) continue;
    for (int i = 0; i < lay->dims.n[ly + 2]; i++) {
      float x = k->le != 0.0f ? MC_AT(st, o->forw_inn + i) : MC_AT(st, o->u_inn + i);
      MC_AT(wk, w->rate[cur] + w->rate_inn[ly] + i) = mc_phi(x, k->gamma, k->beta, k->theta);
    }
  }
}

/* out[i] = Σ_j W[i][j] r[j]; W at st offset w_off, r and out in wk. */
AP_HD void mc_r_matvec(McView wk, int out, McView st, int w_off, McView rv, int r_off, int n_post,
                       int n_pre) {
  for (int i = 0; i < n_post; i++) {
    float acc = 0.0f;
    for (int j = 0; j < n_pre; j++)
      acc = fmaf(MC_AT(st, w_off + i * n_pre + j), MC_AT(rv, r_off + j), acc);
    MC_AT(wk, out + i) = acc;
  }
}

/* W[i][j] += c err[i] r[j], clipped when clip != 0. */
AP_HD void mc_r_plastic(McView st, int w_off, float c, McView wk, int err, McView rv, int r_off,
                        float w_max, int clip, int n_post, int n_pre) {
  for (int i = 0; i < n_post; i++) {
    float g = c * MC_AT(wk, err + i);
    for (int j = 0; j < n_pre; j++) {
      float v = mc_weight_step(MC_AT(st, w_off + i * n_pre + j), g, MC_AT(rv, r_off + j));
      MC_AT(st, w_off + i * n_pre + j) = clip ? mc_clip(v, w_max) : v;
    }
  }
}

/* New potentials, the new transmitted rate and (learning) the dendritic error of n
 * neurons whose u̇ is in wk at udot; the CPU backend's soma_advance. */
AP_HD void mc_r_soma_advance(McView st, int u_off, int f_off, McView wk, int rate_new, int v_dend,
                             float alpha, float tau, int n, int learn, const McWork *w,
                             const McConst *k) {
  for (int i = 0; i < n; i++) {
    McSoma s = mc_soma_advance(MC_AT(st, u_off + i), MC_AT(wk, w->udot + i), k->dt, tau, k->le,
                               k->gamma, k->beta, k->theta);
    MC_AT(wk, rate_new + i) = s.rate;
    if (learn)
      MC_AT(wk, w->err + i) =
          mc_dendritic_error(s.rate, alpha, MC_AT(wk, v_dend + i), k->gamma, k->beta, k->theta);
    MC_AT(st, f_off + i) = s.forw;
    MC_AT(st, u_off + i) = s.u;
  }
}

/* One time step of one replica (MODELS.md §1, "Order of one step"). */
AP_HD void mc_r_step(McView st, McView wk, const McLayout *lay, const McWork *w, const McConst *k,
                     int learn, float nudge_now, int step_in_sample, int track_selfpred) {
  const McDims *d = &lay->dims;
  const int L = d->n_layers;
  int cur = MC_AT(wk, w->cur) != 0.0f;
  int rate = w->rate[cur], rate_new = w->rate[1 - cur];

  /* 1. inputs and targets */
  for (int i = 0; i < d->n[0]; i++)
    MC_AT(st, lay->r_in + i) = mc_lowpass(MC_AT(st, lay->r_in + i), MC_AT(wk, w->x + i), k->k_in);
  for (int i = 0; i < d->n[L]; i++)
    MC_AT(st, lay->u_tgt + i) = mc_lowpass(MC_AT(st, lay->u_tgt + i), MC_AT(wk, w->tgt + i), k->k_in);

  /* 2./3. layer by layer; a layer reads the previous step's rates and the next layer's
   * previous potentials (not yet advanced, since layers advance in order) */
  for (int ly = 0; ly < L; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    int n_pre = d->n[ly], n_pyr = d->n[ly + 1];
    McView rb = ly == 0 ? st : wk;
    int r_below = ly == 0 ? lay->r_in : rate + w->rate_pyr[ly - 1];
    int r_pyr = rate + w->rate_pyr[ly];
    mc_r_matvec(wk, w->v_bas, st, o->w_up, rb, r_below, n_pyr, n_pre);
    if (ly < L - 1) {
      const McLayerOffsets *on = &lay->layer[ly + 1];
      int n_next = d->n[ly + 2];
      int r_inn = rate + w->rate_inn[ly], r_next = rate + w->rate_pyr[ly + 1];
      for (int i = 0; i < n_next; i++)
        MC_AT(wk, w->u_next + i) = k->le != 0.0f ? MC_AT(st, on->forw_pyr + i) : MC_AT(st, on->u_pyr + i);
      mc_r_matvec(wk, w->v_api, st, o->w_down, wk, r_next, n_pyr, n_next);
      mc_r_matvec(wk, w->v_tmp, st, o->w_pi, wk, r_inn, n_pyr, n_next);
      for (int i = 0; i < n_pyr; i++) MC_AT(wk, w->v_api + i) += MC_AT(wk, w->v_tmp + i);
      mc_r_matvec(wk, w->v_den, st, o->w_ip, wk, r_pyr, n_next, n_pyr);
      if (track_selfpred) {
        float api = 0.0f, inn = 0.0f;
        for (int i = 0; i < n_pyr; i++) api = fmaf(MC_AT(wk, w->v_api + i), MC_AT(wk, w->v_api + i), api);
        for (int i = 0; i < n_next; i++) {
          float diff = MC_AT(wk, r_inn + i) - MC_AT(wk, r_next + i);
          inn = fmaf(diff, diff, inn);
        }
        MC_AT(wk, w->api_sum + ly) += sqrtf(api);
        MC_AT(wk, w->inn_sum + ly) += inn / (float)n_next;
      }
      for (int i = 0; i < n_next; i++) {
        float ss = mc_steady_state(k->gb, MC_AT(wk, w->v_den + i), k->gsom, MC_AT(wk, w->u_next + i),
                                   k->g_inn);
        MC_AT(wk, w->udot + i) = mc_udot(k->g_inn, ss, MC_AT(st, o->u_inn + i));
      }
      mc_r_soma_advance(st, o->u_inn, o->forw_inn, wk, rate_new + w->rate_inn[ly], w->v_den,
                        k->alpha_inn, k->tau_inn, n_next, learn, w, k);
      if (learn && k->c_ip[ly] != 0.0f)
        mc_r_plastic(st, o->w_ip, k->c_ip[ly], wk, w->err, wk, r_pyr, 0.0f, 0, n_next, n_pyr);
      for (int i = 0; i < n_pyr; i++) {
        float ss = mc_steady_state(k->gb, MC_AT(wk, w->v_bas + i), k->ga, MC_AT(wk, w->v_api + i),
                                   k->g_pyr);
        MC_AT(wk, w->udot + i) = mc_udot(k->g_pyr, ss, MC_AT(st, o->u_pyr + i));
      }
      mc_r_soma_advance(st, o->u_pyr, o->forw_pyr, wk, rate_new + w->rate_pyr[ly], w->v_bas,
                        k->alpha_pyr, k->tau_pyr, n_pyr, learn, w, k);
      if (learn) {
        mc_r_plastic(st, o->w_up, k->c_up[ly], wk, w->err, rb, r_below, k->w_max_h, 1, n_pyr, n_pre);
        if (k->c_pi[ly] != 0.0f) {
          for (int i = 0; i < n_pyr; i++) MC_AT(wk, w->v_tmp + i) = -MC_AT(wk, w->v_api + i);
          mc_r_plastic(st, o->w_pi, k->c_pi[ly], wk, w->v_tmp, wk, r_inn, 0.0f, 0, n_pyr, n_next);
        }
      }
    } else {
      for (int i = 0; i < n_pyr; i++) {
        /* LE: target and nudging flag reach the output one step late (reference) */
        float nudge = k->le != 0.0f ? MC_AT(st, lay->nudge_last) : nudge_now;
        float tgt = k->le != 0.0f ? MC_AT(st, lay->u_tgt_last + i) : MC_AT(st, lay->u_tgt + i);
        float vb = MC_AT(wk, w->v_bas + i);
        float ss = nudge != 0.0f ? mc_steady_state(k->gb, vb, k->gsom, tgt, k->g_out)
                                 : mc_steady_state(k->gb, vb, 0.0f, 0.0f, k->g_free);
        MC_AT(wk, w->udot + i) = mc_udot(k->g_out, ss, MC_AT(st, o->u_pyr + i));
      }
      mc_r_soma_advance(st, o->u_pyr, o->forw_pyr, wk, rate_new + w->rate_pyr[ly], w->v_bas,
                        k->alpha_out, k->tau_out, n_pyr, learn, w, k);
      if (learn)
        mc_r_plastic(st, o->w_up, k->c_up[ly], wk, w->err, rb, r_below, k->w_max_o, 1, n_pyr, n_pre);
      /* 4. readout: mean of u (ŭ under LE) from out_lag on */
      float gate = (float)step_in_sample >= k->lag ? 1.0f : 0.0f;
      for (int i = 0; i < n_pyr; i++) {
        float out = k->le != 0.0f ? MC_AT(st, o->forw_pyr + i) : MC_AT(st, o->u_pyr + i);
        MC_AT(wk, w->acc + i) = fmaf(gate, out / k->readout_n, MC_AT(wk, w->acc + i));
      }
    }
  }
  for (int i = 0; i < d->n[L]; i++) MC_AT(st, lay->u_tgt_last + i) = MC_AT(st, lay->u_tgt + i);
  MC_AT(st, lay->nudge_last) = nudge_now;
  MC_AT(wk, w->cur) = (float)(1 - cur);
}

/* One sample: returns whether the readout's argmax hit the class; *sq_err gets the summed
 * squared error of the readout against the target potentials. */
AP_HD int mc_r_sample(McView st, McView wk, const McLayout *lay, const McWork *w, const McConst *k,
                      const float *x, int y, int t_pres, int learn, int nudge, int track,
                      int reset, float *sq_err) {
  const McDims *d = &lay->dims;
  int n_in = d->n[0], n_out = d->n[d->n_layers];
  for (int i = 0; i < n_in; i++) MC_AT(wk, w->x + i) = x[i];
  for (int i = 0; i < n_out; i++) {
    MC_AT(wk, w->tgt + i) = i == y ? k->u_high : k->u_low;
    MC_AT(wk, w->acc + i) = 0.0f;
  }
  if (reset) {
    for (int ly = 0; ly < d->n_layers; ly++) {
      const McLayerOffsets *o = &lay->layer[ly];
      for (int i = 0; i < d->n[ly + 1]; i++) MC_AT(st, o->u_pyr + i) = MC_AT(st, o->forw_pyr + i) = 0.0f;
      if (o->u_inn >= 0)
        for (int i = 0; i < d->n[ly + 2]; i++) MC_AT(st, o->u_inn + i) = MC_AT(st, o->forw_inn + i) = 0.0f;
    }
    mc_r_refresh_rates(st, wk, lay, w, k);
  }
  for (int t = 0; t < t_pres; t++) mc_r_step(st, wk, lay, w, k, learn, nudge ? 1.0f : 0.0f, t, track);
  int best = 0;
  float e = 0.0f;
  for (int i = 0; i < n_out; i++) {
    float a = MC_AT(wk, w->acc + i), t = MC_AT(wk, w->tgt + i);
    if (a > MC_AT(wk, w->acc + best)) best = i;
    e += (a - t) * (a - t);
  }
  *sq_err = e;
  return best == y;
}

/* Epochs e0 .. e1-1 of one replica (the CPU backend's block_run); metrics go to row
 * `row` of m at column e - col0. perm: strided sample order buffer. */
AP_HD void mc_r_epochs(McView st, McView wk, uint32_t *perm, size_t perm_stride,
                       const McLayout *lay, const McWork *w, const McConst *k,
                       const McSchedule *sch, const McData *data, int e0, int e1, McMetrics *m,
                       int row, int col0) {
  int H = lay->dims.n_layers - 1, n_out = lay->dims.n[lay->dims.n_layers];
  for (int e = e0; e < e1; e++) {
    float train_hits = 0, val_hits = 0, val_err = 0, err;
    for (int h = 0; h < H; h++) MC_AT(wk, w->api_sum + h) = MC_AT(wk, w->inn_sum + h) = 0.0f;
    /* Fisher-Yates as in ap_sample_order, into the strided buffer */
    for (int phase = 0; phase < 2; phase++) {
      int n = phase ? data->n_valset : data->n_train, shown = phase ? sch->n_val : data->n_train;
      if (shown == 0) continue;
      for (uint32_t i = 0; i < (uint32_t)n; i++) perm[i * perm_stride] = i;
      for (uint32_t i = (uint32_t)n; i > 1; i--) {
        uint32_t j = ap_below(ap_rng_u32(k->seed, AP_RNG_ORDER, (uint32_t)e, (uint32_t)phase,
                                         (uint32_t)n - i), i);
        uint32_t t = perm[(i - 1) * perm_stride];
        perm[(i - 1) * perm_stride] = perm[j * perm_stride];
        perm[j * perm_stride] = t;
      }
      const float *xs = phase ? data->x_val : data->x_train;
      const int *ys = phase ? data->y_val : data->y_train;
      for (int s = 0; s < shown; s++) {
        uint32_t idx = perm[(size_t)s * perm_stride];
        int hit = mc_r_sample(st, wk, lay, w, k, xs + (size_t)idx * (size_t)data->n_in, ys[idx],
                              sch->t_pres, phase ? 0 : sch->learn, phase ? 0 : sch->teacher,
                              !phase, sch->reset_between_samples, &err);
        if (phase) {
          val_hits += (float)hit;
          val_err += err;
        } else {
          train_hits += (float)hit;
        }
      }
    }
    size_t re = (size_t)row * (size_t)m->n_epochs + (size_t)(e - col0);
    float steps = (float)data->n_train * (float)sch->t_pres;
    m->train_acc[re] = train_hits / (float)data->n_train;
    m->val_acc[re] = sch->n_val > 0 ? val_hits / (float)sch->n_val : NAN;
    m->val_mse[re] = sch->n_val > 0 ? val_err / ((float)sch->n_val * (float)n_out) : NAN;
    for (int h = 0; h < H; h++) {
      size_t reh = re * (size_t)H + (size_t)h;
      m->api_err[reh] = MC_AT(wk, w->api_sum + h) / steps;
      m->inn_err[reh] = MC_AT(wk, w->inn_sum + h) / steps;
      const McLayerOffsets *o = &lay->layer[h], *on = &lay->layer[h + 1];
      int count = lay->dims.n[h + 2] * lay->dims.n[h + 1];
      double ff = 0, fb = 0;
      for (int i = 0; i < count; i++) {
        double a = MC_AT(st, o->w_ip + i) - k->rho[h] * MC_AT(st, on->w_up + i);
        double q = MC_AT(st, o->w_pi + i) + MC_AT(st, o->w_down + i);
        ff += a * a;
        fb += q * q;
      }
      m->ff_err[reh] = (float)(ff / count);
      m->fb_err[reh] = (float)(fb / count);
    }
  }
}

#endif
