/* One replica of the LIF-STDP network through a record, written once for every backend:
 * the step (inputs and neurons; facilitation by the postsynaptic spikes that reach their
 * synapses now; depression and delivery of this step's spikes; the presynaptic traces)
 * and the record's series.
 *
 * A team of threads runs one replica, in one or more blocks: a block is the threads that
 * LS_SYNC() holds together. Block blk of nblk takes a contiguous range of the neurons (whole
 * groups of four, one Philox block each) and its threads every bnth-th of them; the groups
 * of LS_GROUP threads take a share of the neurons with plastic inputs each; block blk
 * takes every nblk-th spike and its threads every bnth-th synapse of it. A phase that needs
 * the whole team's work before it (the synapses after the neurons, the next step after the
 * synapses) follows an LS_SYNC() when the team is one block, a new launch when it is more
 * (ls_cuda.cu's split kernel). Pending inputs are summed in fixed point (ls_params.h), each
 * plastic synapse is written by one thread, so the result does not depend on the team's
 * shape or the order spikes are listed in. Before including, define:
 *   LS_FN             the qualifier of the body's functions (static inline, __device__)
 *   LS_SYNC()         a barrier of the block (nothing for a team of one)
 *   LS_ADD64(p, v)    *p += v on an int64_t, atomically where teams share it
 *   LS_TAKE(p)        (*p)++ on an int, atomically where teams share it; returns the old
 *   LS_SIMD           a vectorisation hint for a loop over neurons (or nothing)
 *   LS_GROUP          (optional, default 1) threads of a group (a warp), a divisor of bnth
 *   LS_BALLOT(pred)   (with LS_GROUP > 1) the group's flags as a mask, bit = lane
 *   LS_LOWEST(mask)   (with LS_GROUP > 1) the index of the lowest set bit
 *   LS_UNROLL         (optional, default 1) static synapses of a spike a thread loads at once
 *   LS_ONE_PASS       (optional) phase A in one pass per neuron, values in registers (a
 *                     GPU: ls_neurons_one); else three passes, each a loop that vectorises
 *   LS_BLOCK_OF_ONE   (optional) every block has one thread: the CPU's team of nblk threads,
 *                     each a contiguous range of neurons with stride-1 loops (they vectorise),
 *                     LS_SYNC() a barrier of the whole team, so that it runs what a team of
 *                     one block runs (ls_step); a team of one is the case nblk = 1
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

#ifndef LS_SIMD
#define LS_SIMD
#endif
#ifndef LS_GROUP
#define LS_GROUP 1
#endif
#ifndef LS_UNROLL
#define LS_UNROLL 1
#endif
#ifndef LS_BALLOT /* a group of one: its own flag, its lowest set bit is bit 0 */
#if LS_GROUP != 1
#error "LS_GROUP > 1 needs LS_BALLOT and LS_LOWEST"
#endif
#define LS_BALLOT(pred) ((unsigned)((pred) != 0))
#define LS_LOWEST(mask) 0
#endif

typedef struct LsTeam {
  int tid, nth;   /* the thread in the team, the team's size */
  int blk, nblk;  /* the thread's block, the team's blocks */
  int btid, bnth; /* the thread in its block, the block's size (LS_BLOCK_OF_ONE: unused) */
  int lo, hi;     /* the block's neurons, ls_team_neurons */
} LsTeam;

/* Thread t's first item and stride in a loop over a team's items, a block's items, and
 * the team's blocks. */
#ifdef LS_BLOCK_OF_ONE
#define LS_FIRST(t) ((t).tid)
#define LS_STRIDE(t) ((t).nth)
#define LS_BFIRST(t) ((void)(t), 0)
#define LS_BSTRIDE(t) 1
#define LS_BLK(t) ((t).blk)
#define LS_NBLK(t) ((t).nblk)
#else
#define LS_FIRST(t) ((t).tid)
#define LS_STRIDE(t) ((t).nth)
#define LS_BFIRST(t) ((t).btid)
#define LS_BSTRIDE(t) ((t).bnth)
#define LS_BLK(t) ((t).blk)
#define LS_NBLK(t) ((t).nblk)
#endif

/* One replica in a backend's memory: its network (read only) and its state. */
typedef struct LsRep {
  /* network (ls_net.h) */
  const uint8_t *pop;
  const float *lgn;    /* [N]: 1 where the neuron has an LGN train */
  const int64_t *wfix; /* [LS_POPS][LS_POPS] */
  const uint32_t *sptr, *pptr, *qptr, *qsyn;
  const uint16_t *scol, *pcol, *qpre;
  const uint8_t *pcat;
  int n_plastic;
  int cat_n[4];     /* plastic synapses per category (pcat) */
  int post0, post1; /* neurons with plastic inputs */
  /* state */
  float *v, *i_ex, *di_ex, *i_in, *di_in; /* [N] */
  int *refr, *age;                        /* [N] */
  float *kplus, *kminus;                  /* [N] */
  float *khist;                           /* [D + 1][N]: K- before the spikes of a step */
  int64_t *ring_ex, *ring_in;             /* [D][N]: pending inputs, fixed point */
  int64_t *wsum;                          /* [4]: a record's weight sums (ls_series) */
  uint32_t *draw_bg, *draw_lgn;           /* [N + 3]: this step's Poisson draws */
  int *fired;                             /* [N]: this step's spikes */
  int *status;                            /* [2]: froze at record (0: no), a non-finite flag */
  float *now_ex, *now_in;                 /* [N]: this step's pending inputs, in pA */
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
  if (a >= 0 && a <= 0x7fffffff) return (int)a % m; /* (a GPU's 64-bit remainder is slow) */
  long long x = a % m;
  return (int)(x < 0 ? x + m : x);
}

/* A team's block's neurons, once when the team is made: lo .. hi-1, whole groups of four
 * (a draw each). */
LS_FN void ls_team_neurons(LsTeam *t, int N) {
  int groups = (N + 3) / 4;
  int g0 = (int)((long long)groups * t->blk / t->nblk),
      g1 = (int)((long long)groups * (t->blk + 1) / t->nblk);
  t->lo = 4 * g0;
  t->hi = 4 * g1 < N ? 4 * g1 : N;
}

/* The neurons of t's block: lo .. hi-1. */
LS_FN void ls_block_neurons(LsTeam t, int N, int *lo, int *hi) {
  (void)N;
  *lo = t.lo, *hi = t.hi;
}

/* t's first neuron at or after a in its block (lo: the block's first): the block's
 * threads take every bnth-th neuron counted from lo, whatever population it is in. */
LS_FN int ls_block_first(LsTeam t, int lo, int a) {
#ifdef LS_BLOCK_OF_ONE
  (void)t, (void)lo;
  return a;
#else
  int x = (t.btid - (a - lo)) % t.bnth;
  return a + (x < 0 ? x + t.bnth : x);
#endif
}

/* Phase A1: the step's Poisson draws, one Philox block per group of four neurons:
 * background for all, the LGN's for the groups of PA's and NPA's L4 (the block's groups). */
LS_FN void ls_draws(LsTeam t, const LsBody *b, long long s) {
  LsRep *r = b->r;
  const LsDims *d = b->d;
  uint64_t seed = b->k->seed;
  int lo, hi;
  ls_block_neurons(t, d->N, &lo, &hi);
  int b0 = lo / 4, b1 = (hi + 3) / 4; /* the block's groups */
  LS_SIMD
  for (int g = b0 + LS_BFIRST(t); g < b1; g += LS_BSTRIDE(t)) {
    philox4x32_ctr_t x = ap_rng_block(seed, AP_RNG_INPUT, (uint32_t)s, 0, (uint32_t)g);
    for (int w = 0; w < 4; w++) r->draw_bg[4 * g + w] = x.v[w];
  }
  for (int a = LS_PA; a <= LS_NPA; a++) {
    int g0 = d->pop0[ls_pop(a, LS_L4, LS_PYR)] / 4,
        g1 = (d->pop0[ls_pop(a, LS_L4, LS_PV) + 1] + 3) / 4;
    g0 = g0 > b0 ? g0 : b0;
    g1 = g1 < b1 ? g1 : b1;
    LS_SIMD
    for (int g = g0 + LS_BFIRST(t); g < g1; g += LS_BSTRIDE(t)) {
      philox4x32_ctr_t x = ap_rng_block(seed, AP_RNG_INPUT, (uint32_t)s, 1, (uint32_t)g);
      for (int w = 0; w < 4; w++) r->draw_lgn[4 * g + w] = x.v[w];
    }
  }
}

/* A population's constants of phase A2 (ls_neuron_in), as values: the loop's stores
 * cannot change them. The sign of a weight picks the current, as in NEST. */
typedef struct LsIn {
  float bg_ex, bg_in, lgn_ex, lgn_in, p_plus, p_minus;
  int ref;
} LsIn;

LS_FN LsIn ls_neuron_in(const LsConst *k, int type) {
  float wl = k->w_lgn[type];
  LsIn c = {.bg_ex = k->w_bg >= 0.0f ? k->w_bg : 0.0f,
            .bg_in = k->w_bg < 0.0f ? k->w_bg : 0.0f,
            .lgn_ex = wl >= 0.0f ? wl : 0.0f,
            .lgn_in = wl < 0.0f ? wl : 0.0f,
            .p_plus = k->p_plus,
            .p_minus = k->p_minus,
            .ref = k->ref_steps};
  return c;
}

/* One neuron's step (phase A2's work for neuron i, from its pending inputs in_ex, in_in
 * and its Poisson counts: c of the background, cl of the LGN times has_lgn): the inputs,
 * the neuron, the traces' decay and age; returns 1 when it spikes. Both passes below run
 * it; the arrays come in as the caller's locals (the CPU's loop then vectorises). */
LS_FN int ls_neuron_at(int i, float in_ex, float in_in, float c, float cl, LsIn q, const LsProp *P,
                       int psc, float *v, float *i_ex, float *di_ex, float *i_in, float *di_in,
                       int *refr, float *kplus, float *kminus, float *khist, int *age_of,
                       int *flag) {
  in_ex += c * q.bg_ex;
  in_in += c * q.bg_in;
  in_ex += cl * q.lgn_ex;
  in_in += cl * q.lgn_in;
  LsNeuron n = {.v = v[i],
                .i_ex = i_ex[i],
                .di_ex = di_ex[i],
                .i_in = i_in[i],
                .di_in = di_in[i],
                .refr = refr[i]};
  int fired = ls_neuron_step(&n, P, psc, q.ref, in_ex, in_in);
  v[i] = n.v, i_ex[i] = n.i_ex, di_ex[i] = n.di_ex;
  i_in[i] = n.i_in, di_in[i] = n.di_in, refr[i] = n.refr;
  kplus[i] *= q.p_plus;
  float km = kminus[i] * q.p_minus;
  khist[i] = km;
  kminus[i] = km + (float)fired;
  int age = age_of[i] < LS_AGE_MAX ? age_of[i] + 1 : LS_AGE_MAX;
  age_of[i] = fired ? 0 : age;
  flag[i] = fired;
  return fired;
}

/* A spike of neuron i (population p) at step s into the step's list, the record's counts
 * and the raster. */
LS_FN void ls_spike_at(LsTeam t, const LsBody *b, long long s, int p, int i) {
  (void)t; /* (the team whose LS_TAKE this is: the CPU's atomics where it has several) */
  LsRep *r = b->r;
  r->spk[LS_TAKE(r->n_spk)] = i;
  LS_TAKE(&r->pop_count[p]);
  if (s >= b->d->raster_first && s < b->d->raster_steps) {
    int q = LS_TAKE(r->n_rast);
    if (q < r->rast_cap) {
      r->rast[2 * (size_t)q] = (uint32_t)i;
      r->rast[2 * (size_t)q + 1] = (uint32_t)s;
    }
  }
}

#ifndef LS_ONE_PASS
/* Phase A2: the inputs of step s and the block's neurons of population p (one type, one
 * LGN rate), with psc fixed (a constant at the call, so that the loop vectorises); the
 * traces decay and age; spikes are flagged. */
LS_FN void ls_neurons_pop(LsTeam t, const LsBody *b, long long s, int p, int psc) {
  LsRep *r = b->r;
  const LsConst *k = b->k;
  int N = b->d->N, type = p & 1, assembly = p / 4;
  size_t at0 = (size_t)ls_mod(s, b->d->D) * N, h0 = (size_t)ls_mod(s, b->d->D + 1) * N;
  const LsProp *P = &k->prop[type];
  const LsPoisson *bg = &k->bg[type], *lgn = &k->lgn[assembly < LS_HA ? assembly : 0];
  LsIn q = ls_neuron_in(k, type);
  int lo, hi;
  ls_block_neurons(t, N, &lo, &hi);
  int i0 = b->d->pop0[p] > lo ? b->d->pop0[p] : lo,
      i1 = b->d->pop0[p + 1] < hi ? b->d->pop0[p + 1] : hi;
  /* the arrays in locals: the loop's stores cannot change them (it then vectorises) */
  int64_t *ring_ex = r->ring_ex + at0, *ring_in = r->ring_in + at0;
  const uint32_t *draw_bg = r->draw_bg, *draw_lgn = r->draw_lgn;
  const float *has_lgn = r->lgn;
  float *v = r->v, *i_ex = r->i_ex, *di_ex = r->di_ex, *i_in = r->i_in, *di_in = r->di_in;
  float *kplus = r->kplus, *kminus = r->kminus, *khist = r->khist + h0;
  int *refr = r->refr, *age_of = r->age;
  int *flag = r->fired;
  float *now_ex = r->now_ex, *now_in = r->now_in;
  for (int i = ls_block_first(t, lo, i0); i < i1; i += LS_BSTRIDE(t)) {
    now_ex[i] = ls_unfix(ring_ex[i]), now_in[i] = ls_unfix(ring_in[i]);
    ring_ex[i] = 0;
    ring_in[i] = 0;
  }
  LS_SIMD
  for (int i = ls_block_first(t, lo, i0); i < i1; i += LS_BSTRIDE(t)) {
    float c = (float)ls_poisson(bg, draw_bg[i]);
    /* no selects around float arithmetic here: gcc sinks it into a branch, which it then
     * does not if-convert (the operation could trap), and the loop stays scalar */
    float cl = (float)ls_poisson(lgn, draw_lgn[i]) * has_lgn[i];
    ls_neuron_at(i, now_ex[i], now_in[i], c, cl, q, P, psc, v, i_ex, di_ex, i_in, di_in, refr,
                 kplus, kminus, khist, age_of, flag);
  }
}

/* Phase A3: the flagged spikes into the step's list, the record's counts and the
 * raster (the same neurons per thread as A2). */
LS_FN void ls_spikes_pop(LsTeam t, const LsBody *b, long long s, int p) {
  LsRep *r = b->r;
  int lo, hi;
  ls_block_neurons(t, b->d->N, &lo, &hi);
  int i0 = b->d->pop0[p] > lo ? b->d->pop0[p] : lo,
      i1 = b->d->pop0[p + 1] < hi ? b->d->pop0[p + 1] : hi;
  for (int i = ls_block_first(t, lo, i0); i < i1; i += LS_BSTRIDE(t))
    if (r->fired[i]) ls_spike_at(t, b, s, p, i);
}

/* Phase A: draws, neurons, spikes (the block's neurons: its draws are its own). */
LS_FN void ls_neurons(LsTeam t, const LsBody *b, long long s) {
  ls_draws(t, b, s);
#ifndef LS_BLOCK_OF_ONE /* (a block of one thread reads only the draws it made) */
  LS_SYNC();
#endif
  int lo, hi;
  ls_block_neurons(t, b->d->N, &lo, &hi);
  for (int p = 0; p < LS_POPS; p++) {
    if (b->d->pop0[p + 1] <= lo || b->d->pop0[p] >= hi) continue; /* none of the block's */
    if (b->k->psc == LS_PSC_ALPHA)
      ls_neurons_pop(t, b, s, p, LS_PSC_ALPHA);
    else
      ls_neurons_pop(t, b, s, p, LS_PSC_EXP);
    ls_spikes_pop(t, b, s, p);
  }
}
#else
/* Word i % 4 of the Philox block of neuron i's group (ls_draws' draw_bg[i] for stream 0,
 * draw_lgn[i] for 1), picked by compares (an indexed word would go to a GPU's local
 * memory). */
LS_FN uint32_t ls_draw_at(uint64_t seed, long long s, uint32_t stream, int i) {
  philox4x32_ctr_t x = ap_rng_block(seed, AP_RNG_INPUT, (uint32_t)s, stream, (uint32_t)i / 4u);
  int w = i & 3;
  return w == 0 ? x.v[0] : w == 1 ? x.v[1] : w == 2 ? x.v[2] : x.v[3];
}

/* Phase A in one pass (LS_ONE_PASS, a GPU's threads: a thread per neuron): each thread
 * takes its neurons of the block, whatever their population, and does phases A1 to A3
 * for each with the values in registers: its draws (the same words ls_draws stores), its
 * pending inputs, the neuron (ls_neuron_at), its spike. The same operations per neuron
 * as the three passes above; the LGN's count is drawn only where the neuron has a train
 * (elsewhere the passes above multiply a count by has_lgn = 0: 0 either way). */
LS_FN void ls_neurons_one(LsTeam t, const LsBody *b, long long s, int psc) {
  LsRep *r = b->r;
  const LsConst *k = b->k;
  int N = b->d->N, lo, hi;
  size_t at0 = (size_t)ls_mod(s, b->d->D) * N, h0 = (size_t)ls_mod(s, b->d->D + 1) * N;
  ls_block_neurons(t, N, &lo, &hi);
  int64_t *ring_ex = r->ring_ex + at0, *ring_in = r->ring_in + at0;
  float *khist = r->khist + h0;
  for (int i = lo + LS_BFIRST(t); i < hi; i += LS_BSTRIDE(t)) {
    int p = r->pop[i], type = p & 1, assembly = p / 4;
    float has = r->lgn[i];
    float in_ex = ls_unfix(ring_ex[i]), in_in = ls_unfix(ring_in[i]);
    ring_ex[i] = 0;
    ring_in[i] = 0;
    const LsPoisson *lgn = &k->lgn[assembly < LS_HA ? assembly : 0];
    float c = (float)ls_poisson(&k->bg[type], ls_draw_at(k->seed, s, 0, i));
    float cl = (float)(has != 0.0f ? ls_poisson(lgn, ls_draw_at(k->seed, s, 1, i)) : 0) * has;
    if (ls_neuron_at(i, in_ex, in_in, c, cl, ls_neuron_in(k, type), &k->prop[type], psc, r->v,
                     r->i_ex, r->di_ex, r->i_in, r->di_in, r->refr, r->kplus, r->kminus, khist,
                     r->age, r->fired))
      ls_spike_at(t, b, s, p, i);
  }
}

/* Phase A: the block's neurons in one pass. */
LS_FN void ls_neurons(LsTeam t, const LsBody *b, long long s) {
  if (b->k->psc == LS_PSC_ALPHA)
    ls_neurons_one(t, b, s, LS_PSC_ALPHA);
  else
    ls_neurons_one(t, b, s, LS_PSC_EXP);
}
#endif

/* Phase C: postsynaptic spikes of step s - D reach their plastic synapses, whose
 * presynaptic neuron did not fire at step s (those that did are facilitated by the spike's
 * walk, ls_delivery, just before their depression: the same operations in the same order
 * per synapse, NEST's). Each group of LS_GROUP threads looks at its share of the neurons
 * with plastic inputs and takes every LS_GROUP-th synapse of those that fired then (a few
 * of many). K+ of a neuron that did not fire is not written in this phase. */
LS_FN void ls_facilitation(LsTeam t, const LsBody *b) {
  LsRep *r = b->r;
  int D = b->d->D;
  int gid = LS_FIRST(t) / LS_GROUP, ngr = LS_STRIDE(t) / LS_GROUP, lane = LS_FIRST(t) % LS_GROUP;
  long long n = r->post1 - r->post0;
  int i0 = r->post0 + (int)(n * gid / ngr), i1 = r->post0 + (int)(n * (gid + 1) / ngr);
  /* the group's lanes look at LS_GROUP neurons at once; then the group walks the
   * synapses of each that fired D steps ago, lowest first */
  for (int a = i0; a < i1; a += LS_GROUP) {
    int me = a + lane;
    unsigned hit = LS_BALLOT(me < i1 && r->age[me] == D);
    while (hit) {
      int i = a + LS_LOWEST(hit);
      hit &= hit - 1u;
      for (uint32_t q = r->qptr[i] + lane; q < r->qptr[i + 1]; q += LS_GROUP) {
        int j = r->qpre[q];
        if (r->fired[j]) continue;
        uint32_t k = r->qsyn[q];
        r->w[k] = ls_facilitate(b->k, r->w[k], r->kplus[j]);
      }
    }
  }
}

/* Phase E: this step's n spikes are delivered D steps on and depress their plastic
 * synapses (facilitated first where the target fired D steps ago, with K+ as it was
 * before this step's spikes: ls_traces follows the block's barrier). Block blk takes
 * every nblk-th spike, its threads every bnth-th synapse of it; a CPU team's threads
 * (LS_BLOCK_OF_ONE) each the synapses onto their own neurons. */
LS_FN void ls_delivery(LsTeam t, const LsBody *b, long long s, int n) {
  LsRep *r = b->r;
  int N = b->d->N, D = b->d->D;
  int slot = ls_mod(s, D), hslot = ls_mod(s - D, D + 1);
  int64_t *ex = r->ring_ex + (size_t)slot * N, *in = r->ring_in + (size_t)slot * N;
  const float *kh = r->khist + (size_t)hslot * N;
#ifdef LS_BLOCK_OF_ONE
  /* a CPU team: every thread walks every spike and takes the synapses onto its own neurons
   * (lo .. hi-1), so that no two threads write one pending input or share its cache line;
   * the others' pending inputs go to a scratch slot (no branch on a random target) */
  if (LS_NBLK(t) > 1) {
    int64_t scratch = 0;
    unsigned lo = (unsigned)t.lo, width = (unsigned)(t.hi - t.lo);
    for (int x = 0; x < n; x++) {
      int j = r->spk[x], pj = r->pop[j];
      const int64_t *wrow = r->wfix + pj * LS_POPS;
      for (uint32_t q = r->sptr[j]; q < r->sptr[j + 1]; q++) {
        int i = r->scol[q];
        int own = (unsigned)i - lo < width;
        int64_t w = wrow[r->pop[i]]; /* as NEST: the sign picks the synaptic current */
        int64_t *to = own ? (w < 0 ? &in[i] : &ex[i]) : &scratch;
        *to += w;
      }
      float kp = r->kplus[j];
      for (uint32_t q = r->pptr[j]; q < r->pptr[j + 1]; q++) {
        int i = r->pcol[q];
        if ((unsigned)i - lo >= width) continue;
        float w = r->w[q];
        if (r->age[i] == D) w = ls_facilitate(b->k, w, kp);
        w = ls_depress(b->k, w, kh[i]);
        r->w[q] = w;
        r->wrep[q] = w;
        ex[i] += ls_fix(w); /* plastic weights stay in [0, Wmax] */
      }
    }
    return;
  }
#endif
  for (int x = LS_BLK(t); x < n; x += LS_NBLK(t)) {
    int j = r->spk[x], pj = r->pop[j];
    const int64_t *wrow = r->wfix + pj * LS_POPS;
    uint32_t q1 = r->sptr[j + 1];
    /* LS_UNROLL synapses a trip: their loads first (in flight together), then the adds */
    for (uint32_t q = r->sptr[j] + LS_BFIRST(t); q < q1; q += LS_UNROLL * LS_BSTRIDE(t)) {
      int at[LS_UNROLL];
      int64_t wu[LS_UNROLL];
      for (int u = 0; u < LS_UNROLL; u++) {
        uint32_t qu = q + (uint32_t)(u * LS_BSTRIDE(t));
        at[u] = qu < q1 ? r->scol[qu] : -1;
      }
      for (int u = 0; u < LS_UNROLL; u++) wu[u] = at[u] >= 0 ? wrow[r->pop[at[u]]] : 0;
      for (int u = 0; u < LS_UNROLL; u++) /* as NEST: the sign picks the synaptic current */
        if (at[u] >= 0) LS_ADD64(wu[u] < 0 ? &in[at[u]] : &ex[at[u]], wu[u]);
    }
    float kp = r->kplus[j];
    for (uint32_t q = r->pptr[j] + LS_BFIRST(t); q < r->pptr[j + 1]; q += LS_BSTRIDE(t)) {
      int i = r->pcol[q];
      float w = r->w[q];
      if (r->age[i] == D) w = ls_facilitate(b->k, w, kp);
      w = ls_depress(b->k, w, kh[i]);
      r->w[q] = w;
      r->wrep[q] = w;
      LS_ADD64(&ex[i], ls_fix(w)); /* plastic weights stay in [0, Wmax] */
    }
  }
}

/* Phase F: this step's spikes join the presynaptic traces (each block its own spikes,
 * after its barrier: their K+ has been read). */
LS_FN void ls_traces(LsTeam t, const LsBody *b, int n) {
  LsRep *r = b->r;
  for (int x = LS_BLK(t) + LS_BFIRST(t) * LS_NBLK(t); x < n; x += LS_NBLK(t) * LS_BSTRIDE(t))
    r->kplus[r->spk[x]] += 1.0f;
}

/* Phases C to F of step s, after the whole team's phase A: its n spikes (read by every
 * thread before this). Where clear is given, thread 0 sets it to 0 once the block's
 * threads have all read the count (a team of one block: the spike list's count). */
LS_FN void ls_synapses(LsTeam t, const LsBody *b, long long s, int n, int *clear) {
  ls_facilitation(t, b);
  ls_delivery(t, b, s, n);
  LS_SYNC();
  if (clear && t.tid == 0) *clear = 0;
  ls_traces(t, b, n);
}

/* One step, by a team of one block. */
LS_FN void ls_step(LsTeam t, const LsBody *b, long long s) {
  if (b->r->status[0]) return; /* diverged: frozen (ls_record_end) */
  ls_neurons(t, b, s);
  LS_SYNC();
  ls_synapses(t, b, s, *b->r->n_spk, b->r->n_spk);
  LS_SYNC();
}

/* A record starts: its spike counts from zero. */
LS_FN void ls_record_start(LsTeam t, const LsBody *b) {
  for (int p = LS_FIRST(t); p < LS_POPS; p += LS_STRIDE(t)) b->r->pop_count[p] = 0;
  LS_SYNC();
}

/* A record ends: the team adds its share of the reported weights' fixed-point sums per
 * category into wsum (in any order: the same bits; wsum starts at zero). Four running sums
 * picked by compares, not an array indexed by the category (a GPU keeps that in local
 * memory). */
LS_FN void ls_weight_sums(LsTeam t, const LsBody *b) {
  LsRep *r = b->r;
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int k = LS_FIRST(t); k < r->n_plastic; k += LS_STRIDE(t)) {
    int c = r->pcat[k];
    int64_t v = ls_fix(r->wrep[k]);
    s0 += c == 0 ? v : 0;
    s1 += c == 1 ? v : 0;
    s2 += c == 2 ? v : 0;
    s3 += c == 3 ? v : 0;
  }
  if (s0) LS_ADD64(&r->wsum[0], s0);
  if (s1) LS_ADD64(&r->wsum[1], s1);
  if (s2) LS_ADD64(&r->wsum[2], s2);
  if (s3) LS_ADD64(&r->wsum[3], s3);
}

/* The record's series from wsum and its spike counts, the team's threads a value each
 * (0-5: the connectivity means; 6-17: the rates; 18: the spikes). */
LS_FN void ls_series_write(LsTeam t, const LsBody *b, float *out) {
  LsRep *r = b->r;
  const LsDims *d = b->d;
  const int64_t *ws = r->wsum;
  float *c = out + b->ser->conn;
  double secs = d->steps * (double)b->k->dt_ms * 1e-3;
#define MEAN(s, n) ((n) > 0 ? (float)(ls_int64_to_double(s) * (double)LS_UNFIX / (double)(n)) : NAN)
  for (int x = LS_FIRST(t); x < 6 + LS_POPS + 1; x += LS_STRIDE(t)) {
    if (x < 2) {
      c[x] = MEAN(ws[2 * x] + ws[2 * x + 1], r->cat_n[2 * x] + r->cat_n[2 * x + 1]);
    } else if (x < 6) {
      c[x] = MEAN(ws[x - 2], r->cat_n[x - 2]);
    } else if (x < 6 + LS_POPS) {
      int p = x - 6, n = d->pop0[p + 1] - d->pop0[p];
      out[b->ser->rates + p] = n > 0 ? (float)(r->pop_count[p] / (n * secs)) : 0.0f;
    } else {
      int total = 0;
      for (int p = 0; p < LS_POPS; p++) total += r->pop_count[p];
      out[b->ser->spikes] = (float)total;
    }
  }
#undef MEAN
}

/* A record ends: its series, by a team of one block (ls_cuda.cu's split kernel runs the
 * two halves as launches of their own, the sums over all the replica's blocks). */
LS_FN void ls_series(LsTeam t, const LsBody *b, float *out) {
  if (t.tid == 0)
    for (int c = 0; c < 4; c++) b->r->wsum[c] = 0;
  LS_SYNC();
  ls_weight_sums(t, b);
  LS_SYNC();
  ls_series_write(t, b, out);
  LS_SYNC();
}

/* The divergence check's first half, by any team over any split of the replica (the split
 * kernel's blocks each take their share): a non-finite potential, current, trace or weight
 * sets status[1] (every writer writes the same value). */
LS_FN void ls_diverge_scan(LsTeam t, const LsBody *b) {
  LsRep *r = b->r;
  int N = b->d->N, H = (b->d->D + 1) * N, bad = 0;
  for (int i = LS_FIRST(t); i < N; i += LS_STRIDE(t))
    bad |= !isfinite(r->v[i]) | !isfinite(r->i_ex[i]) | !isfinite(r->di_ex[i]) |
           !isfinite(r->i_in[i]) | !isfinite(r->di_in[i]) | !isfinite(r->kplus[i]) |
           !isfinite(r->kminus[i]);
  for (int i = LS_FIRST(t); i < H; i += LS_STRIDE(t)) bad |= !isfinite(r->khist[i]);
  for (int k = LS_FIRST(t); k < r->n_plastic; k += LS_STRIDE(t))
    bad |= !isfinite(r->w[k]) | !isfinite(r->wrep[k]);
  if (bad) r->status[1] = 1;
}

/* Its second half, by the team's first thread after the series of record e are written:
 * a flagged replica freezes at e + 1 and its series turn NaN; "diverged" says whether it
 * is frozen. */
LS_FN void ls_diverge_close(const LsBody *b, long long e, float *out) {
  LsRep *r = b->r;
  const LsSeries *ser = b->ser;
  if (!r->status[0] && r->status[1]) r->status[0] = (int)e + 1;
  if (r->status[0])
    for (int i = 0; i < ser->width; i++) out[i] = NAN;
  out[ser->diverged] = r->status[0] ? 1.0f : 0.0f;
  r->status[1] = 0;
}

/* A record ends, by a team of one block: its series, then the divergence check. A replica
 * whose potentials, currents, traces or weights hold a non-finite value at the end of
 * record e (0-based) freezes there: status[0] = e + 1, its steps do nothing from then on
 * (ls_step; the split kernel's launches likewise), its series are NaN and "diverged" 1
 * from that record on, as the microcircuit's and MSTDP's. The spike counts then start
 * again from zero (as the split kernel's ls_split_series does): between records they are
 * zero on every kernel, so the canonical state (status/spike_counts) is the same. */
LS_FN void ls_record_end(LsTeam t, const LsBody *b, long long e, float *out) {
  if (!b->r->status[0]) {
    ls_series(t, b, out);
    ls_diverge_scan(t, b);
    LS_SYNC();
  }
  if (t.tid == 0) ls_diverge_close(b, e, out);
  LS_SYNC();
  ls_record_start(t, b);
}

#endif
