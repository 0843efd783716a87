/* CPU backend for the microcircuit.
 *
 * Layout: replicas are grouped into blocks of MC_LANES; inside a block every state
 * element is stored replica-innermost, x[element][lane], so each loop over a block's
 * lanes is one SIMD instruction sequence and a replica never shares arithmetic with
 * another. A thread keeps one block for a whole chunk of epochs, so the block's weights
 * (40 KB for Bars 9-30-3 at 16 lanes) stay in L1/L2. Replica-innermost blocks measured
 * about 4x faster than replica-major with BLAS for networks of this size (shared/DESIGN.md);
 * no BLAS call pays here, since every replica has its own weights (a batched mat-vec).
 * 16 lanes (one AVX-512 vector) measured 1.45e7 replica-steps/s against 8.3e6 for 8 lanes
 * and 1.48e7 for 32 (bench_mc, 1024 replicas, 2 Zen 4 cores, before later speed-ups).
 *
 * A block with fewer real replicas than lanes fills the spare lanes with copies of lane 0
 * and discards their results; all lanes run the same instructions, which is why a
 * replica's numbers do not depend on its batch. */
#include "../ap_rng.h"
#include "../backend.h"
#include "../mc_equations.h"
#include "../mc_replica.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef MC_LANES
#define MC_LANES 16
#endif
#define LN MC_LANES
/* Every loop over a block's lanes is one SIMD sequence; omp simd makes gcc vectorise it
 * along the lanes rather than along the neuron loops around it. */
#define LANES(l) _Pragma("omp simd") for (int l = 0; l < LN; l++)

/* Per-lane constants derived once from each replica's McParams. */
typedef struct Lanes {
  float k_in[LN];                                   /* dt / tau0 */
  float dt[LN], gb[LN], ga[LN], gsom[LN];
  float g_pyr[LN], tau_pyr[LN], alpha_pyr[LN];      /* hidden pyramidal: gl + gb + ga */
  float g_inn[LN], tau_inn[LN], alpha_inn[LN];      /* interneuron: gl + gb + gsom */
  float g_out[LN], tau_out[LN], g_free[LN], alpha_out[LN]; /* output, with / without target */
  float c_up[MC_MAX_LAYERS][LN], c_ip[MC_MAX_LAYERS][LN], c_pi[MC_MAX_LAYERS][LN]; /* dt η */
  float w_max_h[LN], w_max_o[LN];
  float gamma[LN], beta[LN], theta[LN];
  float le[LN];                                     /* 1: latent equilibrium */
  float lag[LN], readout_n[LN];                     /* out_lag, t_pres - out_lag */
  float u_high[LN], u_low[LN];
  float rho[MC_MAX_LAYERS][LN];                     /* self-prediction scale per hidden layer */
  uint64_t seed[LN];
  int plastic_ip[MC_MAX_LAYERS], plastic_pi[MC_MAX_LAYERS]; /* any lane with η != 0 */
} Lanes;

/* Transmitted rates, double-buffered: a step reads rate[cur] (the previous step's
 * values) and writes rate[1 - cur]. The rate a neuron transmits next step, φ(u_new) or
 * φ(ŭ_new), is the same number as the φ(u_post) of its plasticity rule this step, so it
 * is computed once. Layer l's rates start at McCohort.rate_pyr[l] and rate_inn[l]. */
typedef struct Block {
  float *state;   /* [n_floats][LN] canonical fields, lane-innermost */
  float *rate[2]; /* [n_rates][LN] */
  int cur;
  Lanes k;
  int n_real;
  int rows[LN]; /* metrics row of each real lane */
} Block;

struct McCohort {
  McLayout lay;
  McSchedule sch;
  const McData *data;
  int n_replicas, n_blocks;
  int n_rates, rate_pyr[MC_MAX_LAYERS], rate_inn[MC_MAX_LAYERS];
  Block *blocks;
};

/* Work arrays of one thread for one block, all [neurons][LN]. */
typedef struct Scratch {
  float *x, *tgt, *acc;             /* sample input, target, readout sum */
  float *u_next[MC_MAX_LAYERS];     /* sister pyramids' previous potentials (u or ŭ) */
  float *v_bas, *v_api, *v_den, *v_tmp;
  float *udot, *err;
  uint32_t *perm; /* [LN][S] sample order of each lane */
  float api_sum[MC_MAX_LAYERS][LN], inn_sum[MC_MAX_LAYERS][LN];
  float *pool;
} Scratch;

static int max_neurons(const McDims *d) {
  int m = 0;
  for (int l = 0; l <= d->n_layers; l++) m = d->n[l] > m ? d->n[l] : m;
  return m;
}

static void *alloc_floats(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  void *p = aligned_alloc(64, bytes ? bytes : 64);
  if (p) memset(p, 0, bytes ? bytes : 64);
  return p;
}

static ap_status scratch_init(Scratch *s, const McCohort *c) {
  const McDims *d = &c->lay.dims;
  int L = d->n_layers;
  memset(s, 0, sizeof *s);
  size_t per = (size_t)max_neurons(d) * LN, n_arrays = 9 + (size_t)L;
  s->pool = alloc_floats(per * n_arrays);
  int n_s = c->data->n_train > c->data->n_valset ? c->data->n_train : c->data->n_valset;
  s->perm = malloc((size_t)n_s * LN * sizeof *s->perm);
  if (!s->pool || !s->perm) {
    free(s->pool);
    free(s->perm);
    return AP_ERR_OSERR;
  }
  float *p = s->pool;
#define TAKE(ptr) (ptr = p, p += per)
  TAKE(s->x), TAKE(s->tgt), TAKE(s->acc), TAKE(s->v_bas), TAKE(s->v_api), TAKE(s->v_den);
  TAKE(s->v_tmp), TAKE(s->udot), TAKE(s->err);
  for (int l = 0; l < L; l++) TAKE(s->u_next[l]);
#undef TAKE
  return AP_OK;
}

static void scratch_free(Scratch *s) {
  free(s->pool);
  free(s->perm);
}

/* out[i][:] = W[i][:][:] · r[:][:], W [n_post][n_pre][LN]. */
static void matvec(float *restrict out, const float *restrict W, const float *restrict r,
                   int n_post, int n_pre) {
  for (int i = 0; i < n_post; i++) {
    float acc[LN] = {0};
    const float *restrict w = W + (size_t)i * (size_t)n_pre * LN;
    for (int j = 0; j < n_pre; j++) LANES(l) acc[l] = fmaf(w[j * LN + l], r[j * LN + l], acc[l]);
    LANES(l) out[i * LN + l] = acc[l];
  }
}

/* Urbanczik-Senn step for a whole matrix: W[i][j] += c err[i] r[j], clipped to
 * [-w_max, w_max] when w_max is given (W_up) and left unclipped otherwise. */
static void plastic_step(float *restrict W, const float *restrict c, const float *restrict err,
                         const float *restrict r, const float *restrict w_max, int n_post,
                         int n_pre) {
  for (int i = 0; i < n_post; i++) {
    float *restrict w = W + (size_t)i * (size_t)n_pre * LN;
    float g[LN];
    LANES(l) g[l] = c[l] * err[i * LN + l];
    if (w_max)
      for (int j = 0; j < n_pre; j++)
        LANES(l) w[j * LN + l] = mc_clip(mc_weight_step(w[j * LN + l], g[l], r[j * LN + l]), w_max[l]);
    else
      for (int j = 0; j < n_pre; j++)
        LANES(l) w[j * LN + l] = mc_weight_step(w[j * LN + l], g[l], r[j * LN + l]);
  }
}

/* Rates from the stored potentials: φ(u) (original) or φ(ŭ) (LE). After a state load or
 * a reset; the step itself carries them forward. */
static void refresh_rates(Block *b, const McCohort *c) {
  const McLayout *lay = &c->lay;
  const Lanes *k = &b->k;
  float *rate = b->rate[b->cur];
  for (int ly = 0; ly < lay->dims.n_layers; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    int offs[2] = {o->u_pyr, o->u_inn}, foffs[2] = {o->forw_pyr, o->forw_inn};
    int roffs[2] = {c->rate_pyr[ly], c->rate_inn[ly]};
    int n[2] = {lay->dims.n[ly + 1], o->u_inn >= 0 ? lay->dims.n[ly + 2] : 0};
    for (int pop = 0; pop < 2; pop++) {
      const float *u = b->state + (size_t)offs[pop] * LN, *f = b->state + (size_t)foffs[pop] * LN;
      float *r = rate + (size_t)roffs[pop] * LN;
      for (int i = 0; i < n[pop]; i++)
        LANES(l) {
          float x = k->le[l] != 0.0f ? f[i * LN + l] : u[i * LN + l];
          r[i * LN + l] = mc_phi(x, k->gamma[l], k->beta[l], k->theta[l]);
        }
    }
  }
}

/* The per-neuron part of a step for n neurons with conductance g_tot (udot given):
 * the new potentials, the new transmitted rate and, when learning, the dendritic error
 * φ(u_post) - φ(α v_dend). Writes u and ŭ in place. */
static void soma_advance(float *restrict u, float *restrict forw, float *restrict rate_new,
                         float *restrict err, const float *restrict udot,
                         const float *restrict v_dend, const float *alpha, const float *tau,
                         int n, int learn, const Lanes *k) {
  for (int i = 0; i < n; i++)
    LANES(l) {
      int x = i * LN + l;
      McSoma n = mc_soma_advance(u[x], udot[x], k->dt[l], tau[l], k->le[l], k->gamma[l], k->beta[l],
                                 k->theta[l]);
      rate_new[x] = n.rate;
      if (learn)
        err[x] = mc_dendritic_error(n.rate, alpha[l], v_dend[x], k->gamma[l], k->beta[l], k->theta[l]);
      forw[x] = n.forw;
      u[x] = n.u;
    }
}

/* One time step of a block, MODELS.md §1 "Order of one step". Every layer's update reads
 * only the previous step's rates (rate[cur]) and potentials; the one potential read
 * across layers (the interneurons' sister) is copied out before any layer moves. */
static void block_step(Block *b, Scratch *s, const McCohort *c, int learn, float nudge_now,
                       int step_in_sample, int track_selfpred) {
  const McLayout *lay = &c->lay;
  float *st = b->state;
  const float *rate = b->rate[b->cur];
  float *rate_new = b->rate[1 - b->cur];
  const Lanes *k = &b->k;
  const McDims *d = &lay->dims;
  const int L = d->n_layers;

  /* 1. inputs and targets */
  float *r_in = st + (size_t)lay->r_in * LN, *u_tgt = st + (size_t)lay->u_tgt * LN;
  for (int i = 0; i < d->n[0]; i++)
    LANES(l) r_in[i * LN + l] = mc_lowpass(r_in[i * LN + l], s->x[i * LN + l], k->k_in[l]);
  for (int i = 0; i < d->n[L]; i++)
    LANES(l) u_tgt[i * LN + l] = mc_lowpass(u_tgt[i * LN + l], s->tgt[i * LN + l], k->k_in[l]);

  /* 2. the sister potentials the interneurons are nudged towards (u, or ŭ under LE) */
  for (int ly = 0; ly < L - 1; ly++) {
    const McLayerOffsets *on = &lay->layer[ly + 1];
    const float *u_n = st + (size_t)on->u_pyr * LN, *f_n = st + (size_t)on->forw_pyr * LN;
    for (int i = 0; i < d->n[ly + 2]; i++)
      LANES(l) s->u_next[ly][i * LN + l] = k->le[l] != 0.0f ? f_n[i * LN + l] : u_n[i * LN + l];
  }

  /* 3. update and apply, layer by layer */
  for (int ly = 0; ly < L; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    int n_pre = d->n[ly], n_pyr = d->n[ly + 1];
    const float *r_below = ly == 0 ? r_in : rate + (size_t)c->rate_pyr[ly - 1] * LN;
    const float *r_pyr = rate + (size_t)c->rate_pyr[ly] * LN;
    float *w_up = st + (size_t)o->w_up * LN;
    float *u = st + (size_t)o->u_pyr * LN, *forw = st + (size_t)o->forw_pyr * LN;
    float *v_bas = s->v_bas, *udot = s->udot, *err = s->err;
    matvec(v_bas, w_up, r_below, n_pyr, n_pre);

    if (ly < L - 1) { /* hidden layer: pyramids with apical dendrites, interneurons */
      int n_next = d->n[ly + 2];
      const float *r_inn = rate + (size_t)c->rate_inn[ly] * LN;
      const float *r_next = rate + (size_t)c->rate_pyr[ly + 1] * LN;
      float *v_api = s->v_api, *v_den = s->v_den;
      float *w_down = st + (size_t)o->w_down * LN, *w_pi = st + (size_t)o->w_pi * LN;
      float *w_ip = st + (size_t)o->w_ip * LN;
      float *ui = st + (size_t)o->u_inn * LN, *fi = st + (size_t)o->forw_inn * LN;
      matvec(v_api, w_down, r_next, n_pyr, n_next);
      matvec(s->v_tmp, w_pi, r_inn, n_pyr, n_next);
      for (int i = 0; i < n_pyr * LN; i++) v_api[i] += s->v_tmp[i];
      matvec(v_den, w_ip, r_pyr, n_next, n_pyr);

      if (track_selfpred) {
        float api[LN] = {0}, inn[LN] = {0};
        for (int i = 0; i < n_pyr; i++) LANES(l) api[l] = fmaf(v_api[i * LN + l], v_api[i * LN + l], api[l]);
        for (int i = 0; i < n_next; i++)
          LANES(l) {
            float diff = r_inn[i * LN + l] - r_next[i * LN + l];
            inn[l] = fmaf(diff, diff, inn[l]);
          }
        LANES(l) {
          s->api_sum[ly][l] += sqrtf(api[l]);
          s->inn_sum[ly][l] += inn[l] / (float)n_next;
        }
      }

      /* interneurons: nudged by their sister's potential */
      for (int i = 0; i < n_next; i++)
        LANES(l) {
          int x = i * LN + l;
          float ss = mc_steady_state(k->gb[l], v_den[x], k->gsom[l], s->u_next[ly][x], k->g_inn[l]);
          udot[x] = mc_udot(k->g_inn[l], ss, ui[x]);
        }
      soma_advance(ui, fi, rate_new + (size_t)c->rate_inn[ly] * LN, err, udot, v_den,
                   k->alpha_inn, k->tau_inn, n_next, learn, k);
      if (learn && k->plastic_ip[ly]) plastic_step(w_ip, k->c_ip[ly], err, r_pyr, NULL, n_next, n_pyr);

      /* pyramids: basal and apical dendrites */
      for (int i = 0; i < n_pyr; i++)
        LANES(l) {
          int x = i * LN + l;
          float ss = mc_steady_state(k->gb[l], v_bas[x], k->ga[l], v_api[x], k->g_pyr[l]);
          udot[x] = mc_udot(k->g_pyr[l], ss, u[x]);
        }
      soma_advance(u, forw, rate_new + (size_t)c->rate_pyr[ly] * LN, err, udot, v_bas,
                   k->alpha_pyr, k->tau_pyr, n_pyr, learn, k);
      if (learn) {
        plastic_step(w_up, k->c_up[ly], err, r_below, k->w_max_h, n_pyr, n_pre);
        if (k->plastic_pi[ly]) {
          for (int i = 0; i < n_pyr * LN; i++) s->v_tmp[i] = -v_api[i]; /* eq. 2.15 */
          plastic_step(w_pi, k->c_pi[ly], s->v_tmp, r_inn, NULL, n_pyr, n_next);
        }
      }
    } else { /* output layer: basal dendrite and the target nudging the soma */
      const float *tgt_last = st + (size_t)lay->u_tgt_last * LN;
      const float *nudge_last = st + (size_t)lay->nudge_last * LN;
      for (int i = 0; i < n_pyr; i++)
        LANES(l) {
          int x = i * LN + l;
          /* LE: target and nudging flag reach the output one step late (reference) */
          float nudge = k->le[l] != 0.0f ? nudge_last[l] : nudge_now;
          float tgt = k->le[l] != 0.0f ? tgt_last[x] : u_tgt[x];
          float ss = nudge != 0.0f
                         ? mc_steady_state(k->gb[l], v_bas[x], k->gsom[l], tgt, k->g_out[l])
                         : mc_steady_state(k->gb[l], v_bas[x], 0.0f, 0.0f, k->g_free[l]);
          udot[x] = mc_udot(k->g_out[l], ss, u[x]);
        }
      soma_advance(u, forw, rate_new + (size_t)c->rate_pyr[ly] * LN, err, udot, v_bas,
                   k->alpha_out, k->tau_out, n_pyr, learn, k);
      if (learn) plastic_step(w_up, k->c_up[ly], err, r_below, k->w_max_o, n_pyr, n_pre);
      /* 4. readout: mean of u (ŭ under LE) from out_lag on */
      float gate[LN];
      LANES(l) gate[l] = (float)step_in_sample >= k->lag[l] ? 1.0f : 0.0f;
      for (int i = 0; i < n_pyr; i++)
        LANES(l) {
          int x = i * LN + l;
          float out = k->le[l] != 0.0f ? forw[x] : u[x];
          s->acc[x] = fmaf(gate[l], out / k->readout_n[l], s->acc[x]);
        }
    }
  }

  /* the LE delay line for target and nudging flag */
  float *tgt_last = st + (size_t)lay->u_tgt_last * LN;
  for (int i = 0; i < d->n[L] * LN; i++) tgt_last[i] = u_tgt[i];
  LANES(l) st[(size_t)lay->nudge_last * LN + l] = nudge_now;
  b->cur = 1 - b->cur;
}

static void set_potentials_zero(Block *b, const McLayout *lay) {
  for (int ly = 0; ly < lay->dims.n_layers; ly++) {
    const McLayerOffsets *o = &lay->layer[ly];
    size_t n = (size_t)lay->dims.n[ly + 1] * LN;
    memset(b->state + (size_t)o->u_pyr * LN, 0, n * sizeof(float));
    memset(b->state + (size_t)o->forw_pyr * LN, 0, n * sizeof(float));
    if (o->u_inn >= 0) {
      size_t m = (size_t)lay->dims.n[ly + 2] * LN;
      memset(b->state + (size_t)o->u_inn * LN, 0, m * sizeof(float));
      memset(b->state + (size_t)o->forw_inn * LN, 0, m * sizeof(float));
    }
  }
}

/* Presents one sample to every lane: lane l sees sample idx[l] of (x, y). Returns, per
 * lane, whether the readout's argmax hit the class and the summed squared error. */
static void run_sample(Block *b, Scratch *s, const McCohort *c, const float *xs, const int *ys,
                       const uint32_t *idx, int learn, int nudge, int track, float *hit,
                       float *sq_err) {
  const McLayout *lay = &c->lay;
  const McDims *d = &lay->dims;
  int n_in = d->n[0], n_out = d->n[d->n_layers];
  LANES(l) {
    const float *x = xs + (size_t)idx[l] * (size_t)n_in;
    for (int i = 0; i < n_in; i++) s->x[i * LN + l] = x[i];
    for (int i = 0; i < n_out; i++)
      s->tgt[i * LN + l] = i == ys[idx[l]] ? b->k.u_high[l] : b->k.u_low[l];
  }
  memset(s->acc, 0, (size_t)n_out * LN * sizeof(float));
  if (c->sch.reset_between_samples) {
    set_potentials_zero(b, lay);
    refresh_rates(b, c);
  }
  for (int t = 0; t < c->sch.t_pres; t++)
    block_step(b, s, c, learn, nudge ? 1.0f : 0.0f, t, track);
  LANES(l) {
    int best = 0;
    float e = 0.0f;
    for (int i = 0; i < n_out; i++) {
      float a = s->acc[i * LN + l], t = s->tgt[i * LN + l];
      if (a > s->acc[best * LN + l]) best = i;
      e += (a - t) * (a - t);
    }
    hit[l] = best == ys[idx[l]] ? 1.0f : 0.0f;
    sq_err[l] = e;
  }
}

/* Runs one block through epochs e0 .. e1-1 and writes its real lanes' metrics. */
static void block_run(Block *b, Scratch *s, const McCohort *c, int e0, int e1, McMetrics *m) {
  const McData *data = c->data;
  const McSchedule *sch = &c->sch;
  const McLayout *lay = &c->lay;
  int H = lay->dims.n_layers - 1, n_out = lay->dims.n[lay->dims.n_layers];
  uint32_t idx[LN];
  float hit[LN], err[LN];
  for (int e = e0; e < e1; e++) {
    float train_hits[LN] = {0}, val_hits[LN] = {0}, val_err[LN] = {0};
    memset(s->api_sum, 0, sizeof s->api_sum);
    memset(s->inn_sum, 0, sizeof s->inn_sum);
    LANES(l) ap_sample_order(s->perm + (size_t)l * data->n_train, (uint32_t)data->n_train,
                             b->k.seed[l], (uint32_t)e, 0);
    for (int i = 0; i < data->n_train; i++) {
      LANES(l) idx[l] = s->perm[(size_t)l * data->n_train + i];
      run_sample(b, s, c, data->x_train, data->y_train, idx, sch->learn, sch->teacher, 1, hit, err);
      LANES(l) train_hits[l] += hit[l];
    }
    if (sch->n_val > 0) {
      LANES(l) ap_sample_order(s->perm + (size_t)l * data->n_valset, (uint32_t)data->n_valset,
                               b->k.seed[l], (uint32_t)e, 1);
      for (int i = 0; i < sch->n_val; i++) {
        LANES(l) idx[l] = s->perm[(size_t)l * data->n_valset + i];
        run_sample(b, s, c, data->x_val, data->y_val, idx, 0, 0, 0, hit, err);
        LANES(l) {
          val_hits[l] += hit[l];
          val_err[l] += err[l];
        }
      }
    }
    float steps = (float)data->n_train * (float)sch->t_pres;
    for (int l = 0; l < b->n_real; l++) {
      size_t re = (size_t)b->rows[l] * (size_t)m->n_epochs + (size_t)e;
      m->train_acc[re] = train_hits[l] / (float)data->n_train;
      m->val_acc[re] = sch->n_val > 0 ? val_hits[l] / (float)sch->n_val : NAN;
      m->val_mse[re] = sch->n_val > 0 ? val_err[l] / ((float)sch->n_val * (float)n_out) : NAN;
      for (int h = 0; h < H; h++) {
        size_t reh = re * (size_t)H + (size_t)h;
        m->api_err[reh] = s->api_sum[h][l] / steps;
        m->inn_err[reh] = s->inn_sum[h][l] / steps;
      }
    }
    /* weight errors of the self-predicting state at the end of the epoch */
    for (int h = 0; h < H; h++) {
      const McLayerOffsets *o = &lay->layer[h], *on = &lay->layer[h + 1];
      int count = lay->dims.n[h + 2] * lay->dims.n[h + 1];
      const float *w_ip = b->state + (size_t)o->w_ip * LN, *w_up = b->state + (size_t)on->w_up * LN;
      const float *w_pi = b->state + (size_t)o->w_pi * LN, *w_dn = b->state + (size_t)o->w_down * LN;
      for (int l = 0; l < b->n_real; l++) {
        double ff = 0, fb = 0;
        for (int i = 0; i < count; i++) {
          double a = w_ip[i * LN + l] - b->k.rho[h][l] * w_up[i * LN + l];
          double q = w_pi[i * LN + l] + w_dn[i * LN + l];
          ff += a * a;
          fb += q * q;
        }
        size_t reh = ((size_t)b->rows[l] * (size_t)m->n_epochs + (size_t)e) * (size_t)H + (size_t)h;
        m->ff_err[reh] = (float)(ff / count);
        m->fb_err[reh] = (float)(fb / count);
      }
    }
  }
}

/* Scatters each replica's derived constants (mc_const_init, shared with the CUDA
 * backend) into the block's per-lane arrays. */
static void lanes_init(Lanes *k, const McParams *p, const McSchedule *sch, int H) {
  memset(k, 0, sizeof *k);
  for (int l = 0; l < LN; l++) {
    McConst c;
    mc_const_init(&c, &p[l], sch->t_pres, H);
    k->k_in[l] = c.k_in, k->dt[l] = c.dt, k->gb[l] = c.gb, k->ga[l] = c.ga, k->gsom[l] = c.gsom;
    k->g_pyr[l] = c.g_pyr, k->tau_pyr[l] = c.tau_pyr, k->alpha_pyr[l] = c.alpha_pyr;
    k->g_inn[l] = c.g_inn, k->tau_inn[l] = c.tau_inn, k->alpha_inn[l] = c.alpha_inn;
    k->g_out[l] = c.g_out, k->tau_out[l] = c.tau_out, k->g_free[l] = c.g_free;
    k->alpha_out[l] = c.alpha_out;
    for (int ly = 0; ly < MC_MAX_LAYERS; ly++) {
      k->c_up[ly][l] = c.c_up[ly], k->c_ip[ly][l] = c.c_ip[ly], k->c_pi[ly][l] = c.c_pi[ly];
      k->rho[ly][l] = c.rho[ly];
      k->plastic_ip[ly] |= c.c_ip[ly] != 0.0f;
      k->plastic_pi[ly] |= c.c_pi[ly] != 0.0f;
    }
    k->w_max_h[l] = c.w_max_h, k->w_max_o[l] = c.w_max_o;
    k->gamma[l] = c.gamma, k->beta[l] = c.beta, k->theta[l] = c.theta;
    k->le[l] = c.le, k->lag[l] = c.lag, k->readout_n[l] = c.readout_n;
    k->u_high[l] = c.u_high, k->u_low[l] = c.u_low, k->seed[l] = c.seed;
  }
}

static int g_threads = 0;

static void cpu_set_threads(int n) { g_threads = n; }

static int cpu_thread_count(void) {
#ifdef _OPENMP
  return g_threads > 0 ? g_threads : omp_get_max_threads();
#else
  return 1;
#endif
}

static ap_status cpu_probe(ApError *err) {
  (void)err;
  return AP_OK;
}

static void cpu_describe(char *buf, size_t n) {
  snprintf(buf, n, "cpu, %d thread%s, %d lanes per block", cpu_thread_count(),
           cpu_thread_count() == 1 ? "" : "s", LN);
}

static void cpu_cohort_destroy(McCohort *c) {
  if (!c) return;
  for (int i = 0; c->blocks && i < c->n_blocks; i++) {
    free(c->blocks[i].state);
    free(c->blocks[i].rate[0]);
    free(c->blocks[i].rate[1]);
  }
  free(c->blocks);
  free(c);
}

static ap_status cpu_cohort_create(const McCohortSpec *spec, const McData *data, McCohort **out,
                                   ApError *err) {
  McCohort *c = calloc(1, sizeof *c);
  if (!c) return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort");
  c->lay = spec->layout;
  c->sch = spec->schedule;
  c->data = data;
  c->n_replicas = spec->n_replicas;
  c->n_blocks = (spec->n_replicas + LN - 1) / LN;
  for (int ly = 0; ly < c->lay.dims.n_layers; ly++) {
    c->rate_pyr[ly] = c->n_rates;
    c->n_rates += c->lay.dims.n[ly + 1];
    c->rate_inn[ly] = c->n_rates;
    if (ly < c->lay.dims.n_layers - 1) c->n_rates += c->lay.dims.n[ly + 2];
  }
  c->blocks = calloc((size_t)c->n_blocks, sizeof *c->blocks);
  if (!c->blocks) goto oom;
  for (int bi = 0; bi < c->n_blocks; bi++) {
    Block *b = &c->blocks[bi];
    McParams p[LN];
    b->n_real = spec->n_replicas - bi * LN < LN ? spec->n_replicas - bi * LN : LN;
    LANES(l) {
      int r = bi * LN + (l < b->n_real ? l : 0);
      p[l] = spec->params[r];
      if (l < b->n_real) b->rows[l] = spec->replica_ids[r];
    }
    lanes_init(&b->k, p, &c->sch, c->lay.dims.n_layers - 1);
    b->state = alloc_floats((size_t)c->lay.n_floats * LN);
    b->rate[0] = alloc_floats((size_t)c->n_rates * LN);
    b->rate[1] = alloc_floats((size_t)c->n_rates * LN);
    if (!b->state || !b->rate[0] || !b->rate[1]) goto oom;
  }
  *out = c;
  return AP_OK;
oom:
  cpu_cohort_destroy(c);
  return ap_fail(err, AP_ERR_OSERR, "out of memory creating a cohort of %d replicas",
                 spec->n_replicas);
}

static ap_status cpu_state_set(McCohort *c, const float *state, ApError *err) {
  (void)err;
  size_t n = (size_t)c->lay.n_floats;
  for (int bi = 0; bi < c->n_blocks; bi++) {
    Block *b = &c->blocks[bi];
    LANES(l) {
      const float *src = state + (size_t)(bi * LN + (l < b->n_real ? l : 0)) * n;
      for (size_t e = 0; e < n; e++) b->state[e * LN + (size_t)l] = src[e];
    }
    refresh_rates(b, c);
  }
  return AP_OK;
}

static ap_status cpu_state_get(McCohort *c, float *state, ApError *err) {
  (void)err;
  size_t n = (size_t)c->lay.n_floats;
  for (int bi = 0; bi < c->n_blocks; bi++) {
    Block *b = &c->blocks[bi];
    for (int l = 0; l < b->n_real; l++) {
      float *dst = state + (size_t)(bi * LN + l) * n;
      for (size_t e = 0; e < n; e++) dst[e] = b->state[e * LN + (size_t)l];
    }
  }
  return AP_OK;
}

typedef struct Task {
  McCohort *c;
  Block *b;
  double cost;
} Task;

static int task_by_cost(const void *a, const void *b) {
  double x = ((const Task *)a)->cost, y = ((const Task *)b)->cost;
  return (x < y) - (x > y);
}

/* All blocks of all cohorts form one pool of independent tasks, longest first, so a
 * sweep with few replicas per schedule still keeps every core busy. */
static ap_status cpu_run_epochs(McCohort **cohorts, int n_cohorts, int e0, int e1, McMetrics *m,
                                ApError *err) {
  int n_tasks = 0;
  for (int i = 0; i < n_cohorts; i++) n_tasks += cohorts[i]->n_blocks;
  Task *tasks = malloc((size_t)(n_tasks ? n_tasks : 1) * sizeof *tasks);
  if (!tasks) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  int t = 0;
  for (int i = 0; i < n_cohorts; i++) {
    McCohort *c = cohorts[i];
    double steps = (double)c->sch.t_pres * (double)(c->data->n_train + c->sch.n_val);
    for (int bi = 0; bi < c->n_blocks; bi++)
      tasks[t++] = (Task){c, &c->blocks[bi], steps * (double)c->lay.n_weights};
  }
  qsort(tasks, (size_t)n_tasks, sizeof *tasks, task_by_cost);
  int failed = 0;
#pragma omp parallel num_threads(cpu_thread_count())
  {
    Scratch s;
    const McCohort *have = NULL;
    int ok = 1;
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n_tasks; i++) {
      if (!ok) continue;
      if (tasks[i].c != have) {
        if (have) scratch_free(&s);
        have = NULL;
        if (scratch_init(&s, tasks[i].c) != AP_OK) {
          ok = 0;
#pragma omp atomic write
          failed = 1;
          continue;
        }
        have = tasks[i].c;
      }
      block_run(tasks[i].b, &s, tasks[i].c, e0, e1, m);
    }
    if (have) scratch_free(&s);
  }
  free(tasks);
  if (failed) return ap_fail(err, AP_ERR_OSERR, "out of memory for work arrays");
  return AP_OK;
}

static const ApBackend cpu_backend = {
    .name = "cpu",
    .probe = cpu_probe,
    .describe = cpu_describe,
    .set_threads = cpu_set_threads,
    .cohort_create = cpu_cohort_create,
    .cohort_destroy = cpu_cohort_destroy,
    .state_set = cpu_state_set,
    .state_get = cpu_state_get,
    .run_epochs = cpu_run_epochs,
};

const ApBackend *ap_backend_cpu(void) { return &cpu_backend; }
