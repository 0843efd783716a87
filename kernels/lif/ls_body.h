/* One replica of the LIF-STDP network through a record, written once for every backend:
 * the step (inputs and neurons; facilitation by the postsynaptic spikes that reach their
 * synapses now; depression and delivery of this step's spikes; the presynaptic traces)
 * and the record's series.
 *
 * A team of threads runs one replica: thread tid of nth takes every nth neuron, spike or
 * synapse, and LS_SYNC() separates the phases. Pending inputs are summed in fixed point
 * (ls_params.h), each plastic synapse is written by one thread, so the result does not
 * depend on the team's size or the order spikes are listed in. Before including, define:
 *   LS_FN             the qualifier of the body's functions (static inline, __device__)
 *   LS_SYNC()         a barrier of the team (nothing for a team of one)
 *   LS_ADD64(p, v)    *p += v on an int64_t, atomically where teams share it
 *   LS_TAKE(p)        (*p)++ on an int, atomically where teams share it; returns the old
 *
 * STDP bookkeeping (NEST's stdp_synapse with dendritic delay d = D steps, shared/MODELS.md
 * §3): a spike of step q carries the time stamp (q + 1) h. NEST updates a weight lazily at
 * a presynaptic spike T: first facilitation by every postsynaptic spike t with
 * t_last - d < t <= T - d, with K+ decayed to t + d, then depression with K- at T - d
 * (postsynaptic spikes before T - d). The same operations in the same order happen here
 * eagerly: a postsynaptic spike of step q facilitates its synapses at step q + D (when
 * it reaches them, before that step's presynaptic spikes add to K+), and a presynaptic
 * spike of step s depresses with K- as it was before step s - D's spikes (kept in a ring
 * of D + 1 steps). This needs at most one postsynaptic spike per D steps: t_ref >= delay
 * (ls_model.c checks it). The reported weight (wrep) is the one of the last presynaptic
 * spike, as NEST reports it. */
#ifndef LS_BODY_H
#define LS_BODY_H

#include "../core/ap_rng.h"
#include "ls_equations.h"
#include "ls_net.h"

#include <math.h>
#include <stdint.h>

typedef struct LsTeam {
  int tid, nth;
} LsTeam;


/* One replica in a backend's memory: its network (read only) and its state. */
typedef struct LsRep {
  /* network (ls_net.h) */
  const uint8_t *pop, *lgn;
  const int64_t *wfix; /* [LS_POPS][LS_POPS] */
  const uint32_t *sptr, *pptr, *qptr, *qsyn;
  const uint16_t *scol, *pcol, *qpre;
  const uint8_t *pcat;
  int n_plastic;
  int cat_n[4];        /* plastic synapses per category (pcat) */
  int post0, post1;    /* neurons with plastic inputs */
  /* state */
  float *v, *i_ex, *di_ex, *i_in, *di_in; /* [N] */
  int *refr, *age;                        /* [N] */
  float *kplus, *kminus;                  /* [N] */
  float *khist;                           /* [D + 1][N]: K- before the spikes of a step */
  int64_t *ring_ex, *ring_in;             /* [D][N]: pending inputs, fixed point */
  float *w, *wrep;                        /* [n_plastic] */
  /* per step and record */
  int *spk;       /* [N]: this step's spikes */
  int *n_spk;     /* [1] */
  int *pop_count; /* [LS_POPS]: spikes in this record */
  uint32_t *rast; /* (neuron, step) pairs of the raster window */
  int *n_rast;    /* [1] */
  int rast_cap;
} LsRep;

typedef struct LsBody {
  LsRep *r;
  const LsConst *k;
  const LsDims *d;
  const LsSeries *ser;
} LsBody;

LS_FN int ls_mod(long long a, int m) {
  long long x = a % m;
  return (int)(x < 0 ? x + m : x);
}

/* Phase A: the inputs of step s, the neurons, the traces; spikes listed. Threads take
 * groups of four neurons (one Philox block each). */
LS_FN void ls_neurons(LsTeam t, const LsBody *b, long long s) {
  LsRep *r = b->r;
  const LsConst *k = b->k;
  int N = b->d->N, D = b->d->D;
  int slot = ls_mod(s, D), hslot = ls_mod(s, D + 1);
  int groups = (N + 3) / 4;
  for (int g = t.tid; g < groups; g += t.nth) {
    philox4x32_ctr_t bg = ap_rng_block(k->seed, AP_RNG_INPUT, (uint32_t)s, 0, (uint32_t)g);
    int any_lgn = 0;
    for (int w = 0; w < 4 && 4 * g + w < N; w++) any_lgn |= r->lgn[4 * g + w];
    philox4x32_ctr_t lg = bg;
    if (any_lgn) lg = ap_rng_block(k->seed, AP_RNG_INPUT, (uint32_t)s, 1, (uint32_t)g);
    for (int w = 0; w < 4 && 4 * g + w < N; w++) {
      int i = 4 * g + w, type = r->pop[i] & 1;
      size_t at = (size_t)slot * N + i;
      float in_ex = ls_unfix(r->ring_ex[at]), in_in = ls_unfix(r->ring_in[at]);
      r->ring_ex[at] = 0;
      r->ring_in[at] = 0;
      float x = (float)ls_poisson(&k->bg[type], bg.v[w]) * k->w_bg;
      if (k->w_bg < 0.0f)
        in_in += x;
      else
        in_ex += x;
      if (r->lgn[i]) {
        x = (float)ls_poisson(&k->lgn[r->lgn[i] - 1], lg.v[w]) * k->w_lgn[type];
        if (k->w_lgn[type] < 0.0f)
          in_in += x;
        else
          in_ex += x;
      }
      LsNeuron n = {r->v[i], r->i_ex[i], r->di_ex[i], r->i_in[i], r->di_in[i], r->refr[i]};
      int fired = ls_neuron_step(&n, &k->prop[type], k->psc, k->ref_steps, in_ex, in_in);
      r->v[i] = n.v, r->i_ex[i] = n.i_ex, r->di_ex[i] = n.di_ex;
      r->i_in[i] = n.i_in, r->di_in[i] = n.di_in, r->refr[i] = n.refr;
      r->kplus[i] *= k->p_plus;
      float km = r->kminus[i] * k->p_minus;
      r->khist[(size_t)hslot * N + i] = km;
      int age = r->age[i] < LS_AGE_MAX ? r->age[i] + 1 : LS_AGE_MAX;
      if (fired) {
        km += 1.0f;
        age = 0;
        r->spk[LS_TAKE(r->n_spk)] = i;
        LS_TAKE(&r->pop_count[r->pop[i]]);
        if (s < b->d->raster_steps) {
          int q = LS_TAKE(r->n_rast);
          if (q < r->rast_cap) {
            r->rast[2 * (size_t)q] = (uint32_t)i;
            r->rast[2 * (size_t)q + 1] = (uint32_t)s;
          }
        }
      }
      r->kminus[i] = km;
      r->age[i] = age;
    }
  }
}

/* Phase C: postsynaptic spikes of step s - D reach their plastic synapses. */
LS_FN void ls_facilitation(LsTeam t, const LsBody *b) {
  LsRep *r = b->r;
  int D = b->d->D;
  for (int i = r->post0 + t.tid; i < r->post1; i += t.nth) {
    if (r->age[i] != D) continue;
    for (uint32_t q = r->qptr[i]; q < r->qptr[i + 1]; q++) {
      uint32_t k = r->qsyn[q];
      r->w[k] = ls_facilitate(b->k, r->w[k], r->kplus[r->qpre[q]]);
    }
  }
}

/* Phase E: this step's spikes depress their plastic synapses and are delivered D steps
 * on. Every thread walks every spike and takes every nth synapse of it. */
LS_FN void ls_delivery(LsTeam t, const LsBody *b, long long s) {
  LsRep *r = b->r;
  int N = b->d->N, D = b->d->D;
  int slot = ls_mod(s, D), hslot = ls_mod(s - D, D + 1);
  int n = *r->n_spk;
  for (int x = 0; x < n; x++) {
    int j = r->spk[x], pj = r->pop[j];
    int64_t *ex = r->ring_ex + (size_t)slot * N, *in = r->ring_in + (size_t)slot * N;
    const int64_t *wrow = r->wfix + pj * LS_POPS;
    for (uint32_t q = r->sptr[j] + t.tid; q < r->sptr[j + 1]; q += t.nth) {
      int i = r->scol[q];
      int64_t w = wrow[r->pop[i]]; /* as NEST: the sign picks the synaptic current */
      LS_ADD64(w < 0 ? &in[i] : &ex[i], w);
    }
    const float *kh = r->khist + (size_t)hslot * N;
    for (uint32_t q = r->pptr[j] + t.tid; q < r->pptr[j + 1]; q += t.nth) {
      int i = r->pcol[q];
      float w = ls_depress(b->k, r->w[q], kh[i]);
      r->w[q] = w;
      r->wrep[q] = w;
      LS_ADD64(&ex[i], ls_fix(w)); /* plastic weights stay in [0, Wmax] */
    }
  }
}

/* Phase F: this step's spikes join the presynaptic traces. */
LS_FN void ls_traces(LsTeam t, const LsBody *b) {
  LsRep *r = b->r;
  int n = *r->n_spk;
  for (int x = t.tid; x < n; x += t.nth) r->kplus[r->spk[x]] += 1.0f;
}

LS_FN void ls_step(LsTeam t, const LsBody *b, long long s) {
  ls_neurons(t, b, s);
  LS_SYNC();
  ls_facilitation(t, b);
  LS_SYNC();
  ls_delivery(t, b, s);
  LS_SYNC();
  ls_traces(t, b);
  LS_SYNC();
  if (t.tid == 0) *b->r->n_spk = 0;
  LS_SYNC();
}

/* The record's series from its spike counts and the reported weights: a team of one
 * (thread 0) writes them. Weights are summed in fixed point, in any order. */
LS_FN void ls_series(const LsBody *b, float *out) {
  const LsRep *r = b->r;
  const LsDims *d = b->d;
  int64_t sum[4] = {0, 0, 0, 0};
  for (int k = 0; k < r->n_plastic; k++) sum[r->pcat[k]] += ls_fix(r->wrep[k]);
  float *c = out + b->ser->conn;
#define MEAN(s, n) ((n) > 0 ? (float)((double)(s) * (double)LS_UNFIX / (double)(n)) : NAN)
  c[0] = MEAN(sum[0] + sum[1], r->cat_n[0] + r->cat_n[1]);
  c[1] = MEAN(sum[2] + sum[3], r->cat_n[2] + r->cat_n[3]);
  for (int q = 0; q < 4; q++) c[2 + q] = MEAN(sum[q], r->cat_n[q]);
#undef MEAN
  double secs = d->steps * (double)b->k->dt_ms * 1e-3;
  int total = 0;
  for (int p = 0; p < LS_POPS; p++) {
    int n = d->pop0[p + 1] - d->pop0[p];
    out[b->ser->rates + p] = n > 0 ? (float)(r->pop_count[p] / (n * secs)) : 0.0f;
    total += r->pop_count[p];
  }
  out[b->ser->spikes] = (float)total;
}

#endif
