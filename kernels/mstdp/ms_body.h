/* One replica of the MSTDP network through a record, written once for every backend:
 * the iteration (a row pass: pending rank-1 learning update and input mat-vec, fused; a
 * unit pass: state, velocity, rate, learning coefficients), the phases, a training
 * presentation (Algorithm 1), the read-outs (test and training accuracy, generation) and
 * the record's series.
 *
 * A team of threads runs one replica: thread tid of nth takes every nth row and unit,
 * and MS_SYNC() separates the passes. The CPU backend runs teams of 1 (replica-parallel)
 * or of all its threads (one large replica); a CUDA block is a team. Every thread of a
 * team takes the same branches (the control flow depends on the replica only). Before
 * including, define:
 *   MS_FN      the qualifier of the body's functions (static inline, __device__)
 *   MS_SYNC()  a barrier of the team (nothing for a team of one)
 *   MS_SIMD    a vectorisation hint for a loop over 16 elements (or nothing)
 *
 * A record is cut into units (ms_params.h, MS_PART_*): its presentations, then the read-outs'
 * images and the generated samples. No learning update is pending across a unit's end: a
 * presentation ends with a free phase, whose first iteration applied the last clamped
 * iteration's update, and the read-outs do not learn. */
#ifndef MS_BODY_H
#define MS_BODY_H

#include "../core/ap_data.h"
#include "../core/ap_rng.h"
#include "ms_equations.h"
#include "ms_rep.h" /* MsRep: one replica in a backend's memory */

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct MsTeam {
  int tid, nth;
} MsTeam;

/* The share of n rows or units thread tid takes: a contiguous block where MS_CONTIGUOUS
 * is defined (CPU threads: their own cache lines and prefetch streams), else every nth
 * (GPU threads: neighbours touch neighbouring words). */
typedef struct MsSpan {
  int lo, hi, step;
} MsSpan;

MS_FN MsSpan ms_span(MsTeam t, int n) {
  MsSpan s;
#ifdef MS_CONTIGUOUS
  s.lo = (int)((long long)n * t.tid / t.nth);
  s.hi = (int)((long long)n * (t.tid + 1) / t.nth);
  s.step = 1;
#else
  s.lo = t.tid;
  s.hi = n;
  s.step = t.nth;
#endif
  return s;
}

typedef struct MsBody {
  MsRep *r;
  const MsConst *k;
  MsDims d;
  const ApData *data;
  const MsSeries *ser;
  int version; /* the backend's kernel version, for MS_ROW_PASS_VERSION (0: the body's) */
} MsBody;

/* ---- the iteration ----------------------------------------------------------------- */

/* Row w of n weights (a multiple of 16): first the pending update w_j += a x_j (+ a2
 * x2_j), the self weight (column self, -1: none) held at 0; then the canonical dot
 * product with the rates src. */
MS_FN float ms_row(float *w, int n, int self, const float *src, int terms, float a, const float *x,
                   float a2, const float *x2) {
  float acc[MS_PAD];
  for (int q = 0; q < MS_PAD; q++) acc[q] = 0.0f;
  for (int j0 = 0; j0 < n; j0 += MS_PAD) {
    float *wb = w + j0;
    if (terms) {
      MS_SIMD
      for (int q = 0; q < MS_PAD; q++) wb[q] = fmaf(a, x[j0 + q], wb[q]);
      if (terms == 2) {
        MS_SIMD
        for (int q = 0; q < MS_PAD; q++) wb[q] = fmaf(a2, x2[j0 + q], wb[q]);
      }
      if (self >= j0 && self < j0 + MS_PAD) wb[self - j0] = 0.0f;
    }
    MS_SIMD
    for (int q = 0; q < MS_PAD; q++) acc[q] = fmaf(wb[q], src[j0 + q], acc[q]);
  }
  ms_tree16(acc);
  return acc[0];
}

/* Every receiver's input, after applying the pending update (terms: 0, 1 or 2). A
 * backend may run a version of its own instead: MS_ROW_PASS_VERSION(t, b, terms), where
 * defined, returns whether it ran the pass (the same sums in the same order, so the same
 * bits; ms_cuda.cu's rows16). */
MS_FN void ms_row_pass(MsTeam t, const MsBody *b, int terms) {
#ifdef MS_ROW_PASS_VERSION
  if (MS_ROW_PASS_VERSION(t, b, terms)) return;
#endif
  MsRep *r = b->r;
  const MsDims *d = &b->d;
  MsSpan sp = ms_span(t, d->H + d->V);
  for (int i = sp.lo; i < sp.hi; i += sp.step) {
    if (i < d->H)
      r->dot[i] = ms_row(r->wh + (size_t)i * d->Np, d->Np, i, r->rho, terms, r->ca[i], r->cx,
                         r->ca2[i], r->cx2);
    else {
      int u = d->Hp + i - d->H;
      r->dot[u] = ms_row(r->wv + (size_t)(i - d->H) * d->Hp, d->Hp, -1, r->rho, terms, r->ca[u],
                         r->cx, r->ca2[u], r->cx2);
    }
  }
}

/* The internal index of real unit i (hidden first, then visible). */
MS_FN int ms_unit(const MsDims *d, int i) { return i < d->H ? i : d->Hp + i - d->H; }

/* Unit u's new state from its input dot and its rate r0 = rho(s) before the iteration;
 * clamped: whether the phase clamps it. The new rate, and while learning its column
 * coefficients, go to rho[u], cx[u], cx2[u]: the MsRep's own (ms_unit_pass), or a second
 * set where the row pass still reads the first (ms_cuda.cu's span). */
MS_FN void ms_unit_at(const MsBody *b, int u, float r0, float dot, int clamped_phase, int clamped,
                      int learn, float *rho, float *cx, float *cx2) {
  MsRep *r = b->r;
  const MsConst *k = b->k;
  MsUnitStep st =
      ms_unit_step(k, r->s[u], r->v[u], r0, dot, r->b[u], clamped_phase, clamped, r->tgt[u]);
  float r1 = ms_rho(st.s);
  if (learn) {
    MsLearn l = ms_learn(k, r0, r1, st.ds);
    r->ca[u] = l.a;
    cx[u] = l.x;
    r->ca2[u] = l.a2;
    cx2[u] = l.x2;
    r->b[u] = r->b[u] + l.db;
  }
  r->s[u] = st.s;
  r->v[u] = st.v;
  rho[u] = r1;
}

/* Every unit's new state; units [lo, hi) are clamped in a clamped phase. */
MS_FN void ms_unit_pass(MsTeam t, const MsBody *b, int clamped_phase, int lo, int hi, int learn) {
  MsRep *r = b->r;
  MsSpan sp = ms_span(t, b->d.H + b->d.V);
  for (int i = sp.lo; i < sp.hi; i += sp.step) {
    int u = ms_unit(&b->d, i);
    ms_unit_at(b, u, r->rho[u], r->dot[u], clamped_phase, u >= lo && u < hi, learn, r->rho, r->cx,
               r->cx2);
  }
}

/* The update terms a learning iteration leaves pending. */
AP_HD int ms_terms(const MsConst *k) { return k->rule == MS_RULE_PRE && k->smoothing ? 2 : 1; }

/* One phase of n iterations. *pending: the terms of the update not yet applied. */
MS_FN void ms_phase(MsTeam t, const MsBody *b, int clamped_phase, int lo, int hi, int learn,
                    int *pending) {
  for (int it = 0; it < b->k->iterations; it++) {
    ms_row_pass(t, b, *pending);
    MS_SYNC();
    ms_unit_pass(t, b, clamped_phase, lo, hi, learn);
    MS_SYNC();
    *pending = learn ? ms_terms(b->k) : 0;
  }
}

/* ---- targets, presentations, read-outs ------------------------------------------------ */

/* Clamp targets: the pixels of image x (NULL: leave them) and label y (-1: leave it). */
MS_FN void ms_set_targets(MsTeam t, const MsBody *b, const float *x, int y) {
  const MsDims *d = &b->d;
  MsRep *r = b->r;
  for (int i = t.tid; i < d->V; i += t.nth) {
    if (i < d->P && x) r->tgt[d->Hp + i] = ms_pixel_target(x[i], b->k->data_range);
    if (i >= d->P && y >= 0)
      r->tgt[d->Hp + i] = ms_label_target((i - d->P) / d->K == y, b->k->data_range);
  }
  MS_SYNC();
}

/* Algorithm 1 for one training image: T cycles of (clamped phase with learning, free
 * phase), as a list of ms_present_iters iterations; iteration j is ms_present_iter(k, j)
 * (a backend that launches iteration by iteration, ms_cuda.cu's span, walks the same
 * list). Nothing is pending across a presentation's end: it ends with a free phase. */
typedef struct MsIter {
  int clamped, learn, terms; /* a clamped phase (with learning); the update terms pending */
} MsIter;

AP_HD int ms_present_iters(const MsConst *k) { return 2 * k->cycles * k->iterations; }

AP_HD MsIter ms_present_iter(const MsConst *k, int j) {
  MsIter it;
  it.clamped = j / k->iterations % 2 == 0;
  it.learn = it.clamped;
  it.terms = j > 0 && (j - 1) / k->iterations % 2 == 0 ? ms_terms(k) : 0;
  return it;
}

/* The clamped units [lo, hi) of a training iteration: the visible ones in a clamped phase. */
AP_HD int ms_present_lo(const MsDims *d, MsIter it) { return it.clamped ? d->Hp : 0; }
AP_HD int ms_present_hi(const MsDims *d, MsIter it) { return it.clamped ? d->Hp + d->V : 0; }

MS_FN void ms_present(MsTeam t, const MsBody *b, const float *x, int y) {
  const MsDims *d = &b->d;
  ms_set_targets(t, b, x, y);
  for (int j = 0, n = ms_present_iters(b->k); j < n; j++) {
    MsIter it = ms_present_iter(b->k, j);
    ms_row_pass(t, b, it.terms);
    MS_SYNC();
    ms_unit_pass(t, b, it.clamped, ms_present_lo(d, it), ms_present_hi(d, it), it.learn);
    MS_SYNC();
  }
}

/* A label's units' summed state, in unit order (one unit: its state, 0 + s). */
MS_FN float ms_label_sum(const MsDims *d, const float *s, int c) {
  float v = 0.0f;
  for (int q = 0; q < d->K; q++) v += s[c * d->K + q];
  return v;
}

/* The label the label units show: the first of the largest summed states. Every thread
 * of the team reads it (nothing is written). */
MS_FN int ms_label_read(const MsBody *b) {
  const MsDims *d = &b->d;
  const float *s = b->r->s + d->Hp + d->P;
  int best = 0;
  float top = ms_label_sum(d, s, 0);
  for (int c = 1; c < d->C; c++) {
    float v = ms_label_sum(d, s, c);
    if (v > top) best = c, top = v;
  }
  return best;
}

/* The read-outs start from the state of the training's end and return to it after each:
 * ms_keep puts the real units' s and v in record/kept, ms_restore takes them back (the
 * rates follow from s) and clears it. */
MS_FN void ms_keep(MsTeam t, const MsBody *b) {
  MsRep *r = b->r;
  int np = b->d.Np;
  for (int i = t.tid; i < b->d.H + b->d.V; i += t.nth) {
    int u = ms_unit(&b->d, i);
    r->kept[u] = r->s[u];
    r->kept[np + u] = r->v[u];
  }
  MS_SYNC();
}

MS_FN void ms_restore(MsTeam t, const MsBody *b) {
  MsRep *r = b->r;
  int np = b->d.Np;
  MS_SYNC(); /* every thread is done with the state */
  for (int i = t.tid; i < b->d.H + b->d.V; i += t.nth) {
    int u = ms_unit(&b->d, i);
    r->s[u] = r->kept[u];
    r->v[u] = r->kept[np + u];
    r->rho[u] = ms_rho(r->s[u]);
    r->kept[u] = 0.0f;
    r->kept[np + u] = 0.0f;
  }
  MS_SYNC();
}

/* A read-out part's images and labels and its two series slots (the label read after
 * the last clamped phase, and after the last free phase); generation has none. */
typedef struct MsReadout {
  const float *x;
  const int *y;
  int slot_c, slot_f;
} MsReadout;

MS_FN MsReadout ms_readout(const MsBody *b, int part) {
  const ApData *data = b->data;
  const MsSeries *ser = b->ser;
  MsReadout o;
  int val = part != MS_PART_TRAIN_EVAL;
  o.x = part == MS_PART_GEN ? NULL : val ? data->x_val : data->x_train;
  o.y = part == MS_PART_GEN ? NULL : val ? data->y_val : data->y_train;
  o.slot_c = part == MS_PART_TEST         ? ser->test_acc_c
             : part == MS_PART_TRAIN_EVAL ? ser->train_acc_c
                                          : ser->full_acc_c;
  o.slot_f = part == MS_PART_TEST         ? ser->test_acc_f
             : part == MS_PART_TRAIN_EVAL ? ser->train_acc_f
                                          : ser->full_acc_f;
  return o;
}

/* The units a read-out part's clamped phases clamp: the pixels (a test), the labels
 * (generation). */
AP_HD int ms_read_lo(const MsDims *d, int part) {
  return part == MS_PART_GEN ? d->Hp + d->P : d->Hp;
}
AP_HD int ms_read_hi(const MsDims *d, int part) {
  return part == MS_PART_GEN ? d->Hp + d->V : d->Hp + d->P;
}

/* A read-out unit's test_cycles of (clamped, free) phases, as a list of
 * ms_read_iters iterations (a backend that launches iteration by iteration, ms_cuda.cu's
 * span, walks the same list): iteration j, its phase and the last of each kind. */
AP_HD int ms_read_iters(const MsConst *k) { return 2 * k->test_cycles * k->iterations; }
AP_HD MsIter ms_read_iter(const MsConst *k, int j) {
  MsIter it;
  it.clamped = j / k->iterations % 2 == 0;
  it.learn = 0;
  it.terms = 0;
  return it;
}

/* The start of unit i of a read-out part of record e: at the part's first unit the state
 * of the training's end kept (ms_keep) and the slots' hits cleared; then a test image's
 * pixels as targets, or a generated sample's random state U(-state_scale, state_scale)
 * (velocity 0; drawn from record e and sample i) and its label (i / gen_samples). */
MS_FN void ms_read_begin(MsTeam t, const MsBody *b, int e, int part, int i) {
  const MsDims *d = &b->d;
  MsRep *r = b->r;
  const MsConst *k = b->k;
  MsReadout o = ms_readout(b, part);
  if (i == 0) {
    ms_keep(t, b);
    if (t.tid == 0 && o.x) r->rec[o.slot_c] = r->rec[o.slot_f] = 0.0f;
  }
  if (o.x) {
    ms_set_targets(t, b, o.x + (size_t)i * d->P, -1);
    return;
  }
  for (int q = t.tid; q < d->H + d->V; q += t.nth) {
    int u = ms_unit(d, q);
    float z = ap_u01(ap_rng_u32(k->seed, AP_RNG_STATE, (uint32_t)e, (uint32_t)i, (uint32_t)q));
    r->s[u] = (z - 0.5f) * 2.0f * k->state_scale;
    r->v[u] = 0.0f;
    r->rho[u] = ms_rho(r->s[u]);
  }
  MS_SYNC();
  ms_set_targets(t, b, NULL, i / k->gen_samples);
}

/* After unit i's last clamped phase (clamped) or its last free phase: a test scores the
 * label the label units show (thread 0, in the slot's hits: exact in a float, ms_check
 * keeps n <= 2^24); generation takes the pixel states after the clamped phase as sample
 * i (generated[i][pixel]). Reads the state the next phase's unit pass writes: a barrier
 * must come between (ms_phase's first). */
MS_FN void ms_read_look(MsTeam t, const MsBody *b, int part, int i, int clamped) {
  const MsDims *d = &b->d;
  MsRep *r = b->r;
  MsReadout o = ms_readout(b, part);
  if (o.x) {
    if (t.tid == 0)
      r->rec[clamped ? o.slot_c : o.slot_f] += ms_label_read(b) == o.y[i] ? 1.0f : 0.0f;
  } else if (clamped) {
    float *out = r->rec + b->ser->generated + (size_t)i * d->P;
    for (int px = t.tid; px < d->P; px += t.nth) out[px] = r->s[d->Hp + px];
  }
}

/* The end of unit i of a read-out part of n units: at the last, the hits become the
 * accuracy and the state returns to the training's end (ms_restore); a barrier either
 * way (every thread is done with the state before the next unit changes it). */
MS_FN void ms_read_end(MsTeam t, const MsBody *b, int part, int i, int n) {
  MsReadout o = ms_readout(b, part);
  if (i < n - 1) {
    MS_SYNC();
    return;
  }
  if (t.tid == 0 && o.x) {
    b->r->rec[o.slot_c] /= (float)n;
    b->r->rec[o.slot_f] /= (float)n;
  }
  ms_restore(t, b);
}

/* Unit i of a read-out part of record e, by the test procedure: test_cycles of (clamped,
 * free) phases, no learning. A test image's pixels are clamped, and the labels read after
 * the last phases score; a generated sample's label is clamped, and its pixels after the
 * last clamped phase are the sample. The state runs on from unit to unit of a part, from
 * the training's end (ms_keep) back to it (ms_restore), so a read-out never changes
 * training. */
MS_FN void ms_read_unit(MsTeam t, const MsBody *b, int e, int part, int i) {
  const MsDims *d = &b->d;
  int pending = 0, lo = ms_read_lo(d, part), hi = ms_read_hi(d, part), last = b->k->test_cycles - 1;
  ms_read_begin(t, b, e, part, i);
  for (int c = 0; c <= last; c++) {
    ms_phase(t, b, 1, lo, hi, 0, &pending);
    if (c == last) ms_read_look(t, b, part, i, 1);
    ms_phase(t, b, 0, 0, 0, 0, &pending);
    if (c == last) ms_read_look(t, b, part, i, 0);
  }
  ms_read_end(t, b, part, i, (int)ms_part_len(b->k, part));
}

/* ---- a record ----------------------------------------------------------------------- */

/* The training image of presentation n (counted from the run's start): file order, or a
 * new permutation of the training set per pass. */
MS_FN int ms_image_of(MsTeam t, const MsBody *b, long long n) {
  int n_train = b->data->n_train;
  int pos = (int)(n % n_train);
  if (b->k->order == MS_ORDER_FILE) return pos;
  long long pass = n / n_train;
  if (b->r->perm_pass != pass) {
    MS_SYNC();
    if (t.tid == 0) {
      ap_permutation_strided(b->r->perm, 1, (uint32_t)n_train, b->k->seed, AP_RNG_ORDER,
                             (uint32_t)pass, 0);
      b->r->perm_pass = pass;
    }
    MS_SYNC();
  }
  return (int)b->r->perm[pos];
}

/* The sum of |W| over receiver i's real weights (i: 0..H+V-1, hidden first), in sender
 * order (hidden, then visible), in double. */
MS_FN double ms_abs_row(const MsDims *d, const MsRep *r, int i) {
  double sw = 0.0;
  if (i < d->H) {
    const float *w = r->wh + (size_t)i * d->Np;
    for (int j = 0; j < d->H; j++) sw += fabsf(w[j]);
    for (int j = 0; j < d->V; j++) sw += fabsf(w[d->Hp + j]);
  } else {
    const float *w = r->wv + (size_t)(i - d->H) * d->Hp;
    for (int j = 0; j < d->H; j++) sw += fabsf(w[j]);
  }
  return sw;
}

/* A double parked in two floats of alt (at: 8-byte aligned): memcpy on the CPU (alt's
 * floats alias nothing else then); a double store on the GPU, where the CUDA simulator
 * copied memcpy's bytes wrongly (the row sums read back as 0). */
MS_FN void ms_park(float *at, double v) {
#ifdef __CUDA_ARCH__
  *(double *)(void *)at = v;
#else
  memcpy(at, &v, sizeof v);
#endif
}

MS_FN double ms_unpark(const float *at) {
#ifdef __CUDA_ARCH__
  return *(const double *)(const void *)at;
#else
  double v;
  memcpy(&v, at, sizeof v);
  return v;
#endif
}

/* The record's measures: mean |W| over the real weights (the receivers' row sums, each in
 * double, added in row order), mean and max |s|, and the energy E of eq. 3 (with W[j->i]
 * for the pair's term: -1/2 sum_i rho_i sum_j W[j->i] rho_j); whether everything is
 * finite decides the replica's frozen flag. Needs a row pass (no update pending) before
 * it. The row sums (the O(N^2) part, ms_measure_rows) are the team's, parked in alt
 * (H + V doubles fit in its 3 Np floats); the O(N) sums over the units and the series
 * are thread 0's (ms_measure). */
MS_FN void ms_measure_rows(MsTeam t, const MsBody *b) {
  const MsDims *d = &b->d;
  MsSpan sp = ms_span(t, d->H + d->V);
  for (int i = sp.lo; i < sp.hi; i += sp.step)
    ms_park(b->r->alt + 2 * (size_t)i, ms_abs_row(d, b->r, i));
}

/* After ms_measure_rows and a barrier: the measures into the record's series so far (its
 * other series NaN until the read-outs fill them). */
MS_FN void ms_measure(MsTeam t, const MsBody *b) {
  const MsDims *d = &b->d;
  MsRep *r = b->r;
  const MsSeries *ser = b->ser;
  float *rec = r->rec;
  if (t.tid == 0) {
    double sw = 0.0, ss = 0.0, s2 = 0.0, e_pair = 0.0, e_bias = 0.0, fin = 0.0;
    float smax = 0.0f;
    for (int i = 0; i < d->H + d->V; i++) sw += ms_unpark(r->alt + 2 * (size_t)i);
    for (int i = 0; i < d->H + d->V; i++) {
      int u = ms_unit(d, i);
      float a = fabsf(r->s[u]);
      ss += a;
      s2 += (double)r->s[u] * r->s[u];
      smax = a > smax ? a : smax;
      e_pair += (double)r->rho[u] * r->dot[u];
      e_bias += (double)r->b[u] * r->rho[u];
      fin += (double)r->v[u] + r->b[u] + r->s[u];
    }
    for (int i = 0; i < ser->width; i++) rec[i] = NAN;
    r->frozen = !(isfinite(sw) && isfinite(fin) && isfinite(e_pair));
    if (!r->frozen) {
      double n_w = (double)d->H * (d->H - 1) + 2.0 * d->H * d->V;
      rec[ser->mean_abs_w] = (float)(sw / n_w);
      rec[ser->mean_abs_s] = (float)(ss / (d->H + d->V));
      rec[ser->max_abs_s] = smax;
      rec[ser->energy] = (float)(0.5 * s2 - 0.5 * e_pair - e_bias);
    }
    rec[ser->diverged] = r->frozen ? 1.0f : 0.0f;
  }
  MS_SYNC();
}

/* The measures at the training's end: the row pass (no update pending: a presentation
 * ends with a free phase) and its row sums, unless rows_done (ms_cuda.cu's span ran them
 * over the whole GPU), then ms_measure. */
MS_FN void ms_measures(MsTeam t, const MsBody *b, int rows_done) {
  if (!rows_done) {
    ms_row_pass(t, b, 0);
    MS_SYNC();
    ms_measure_rows(t, b);
    MS_SYNC();
  }
  ms_measure(t, b);
}

/* Training presentations p0 .. p1-1 of record e (of k->presentations). */
MS_FN void ms_train(MsTeam t, const MsBody *b, int e, int p0, int p1) {
  int P = b->d.P;
  for (int p = p0; p < p1; p++) {
    long long n = (long long)e * b->k->presentations + p;
    int img = ms_image_of(t, b, n);
    ms_present(t, b, b->data->x_train + (size_t)img * P, b->data->y_train[img]);
  }
}

/* The read-outs' units u0 .. u1-1 of record e (at or after its presentations): each
 * part's images where the record runs that part (ms_part_runs). */
MS_FN void ms_read_units(MsTeam t, const MsBody *b, int e, long long u0, long long u1) {
  const MsConst *k = b->k;
  for (int part = MS_PART_TEST; part < MS_PARTS; part++) {
    long long a = ms_part_start(k, part), n = ms_part_len(k, part);
    long long lo = u0 > a ? u0 : a, hi = u1 < a + n ? u1 : a + n;
    if (lo >= hi || !ms_part_runs(k, part, e)) continue;
    for (long long u = lo; u < hi; u++) ms_read_unit(t, b, e, part, (int)(u - a));
  }
}

/* The record's end: its series to rec (a frozen replica's: NaN, diverged), and the
 * record's state (record/series) cleared for the next. */
MS_FN void ms_record_close(MsTeam t, const MsBody *b, float *rec) {
  MsRep *r = b->r;
  const MsSeries *ser = b->ser;
  MS_SYNC(); /* the generated pixels are every thread's */
  for (int i = t.tid; i < ser->width; i += t.nth) {
    rec[i] = r->frozen ? (i == ser->diverged ? 1.0f : NAN) : r->rec[i];
    r->rec[i] = 0.0f;
  }
  MS_SYNC();
}

/* What follows the presentations in units u0 .. u1-1 of record e: the measures where the
 * call ran the last presentation (rows_done: see ms_measures), the read-outs' units, and
 * where u1 is the record's last unit, its close into rec. A replica frozen by the
 * measures runs no read-out. */
MS_FN void ms_record_rest(MsTeam t, const MsBody *b, int e, long long u0, long long u1, float *rec,
                          int rows_done) {
  long long P = b->k->presentations;
  if (!b->r->frozen && u0 < P && u1 >= P) ms_measures(t, b, rows_done);
  if (!b->r->frozen && u1 > P) ms_read_units(t, b, e, u0 > P ? u0 : P, u1);
  if (u1 == b->k->units) ms_record_close(t, b, rec);
}

/* Units u0 .. u1-1 of record e of one replica (ms_part_*: its presentations, then the
 * read-outs' images and the generated samples); rec is the replica's record of
 * ser->width floats, written at the record's end. Nothing is pending between two units:
 * what the record carries across them (its series so far, the state the read-outs return
 * to) is in the canonical state, so a record may stop and resume at any unit. */
MS_FN void ms_record(MsTeam t, const MsBody *b, int e, long long u0, long long u1, float *rec) {
  long long P = b->k->presentations;
  if (!b->r->frozen && u0 < P) ms_train(t, b, e, (int)u0, (int)(u1 < P ? u1 : P));
  ms_record_rest(t, b, e, u0, u1, rec, 0);
}

#endif
