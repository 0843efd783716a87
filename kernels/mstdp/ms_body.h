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
 * Within a record nothing is pending across its end: a record ends with a free phase,
 * whose first iteration applies the last clamped iteration's update. */
#ifndef MS_BODY_H
#define MS_BODY_H

#include "../core/ap_data.h"
#include "../core/ap_rng.h"
#include "ms_equations.h"
#include "ms_rep.h" /* MsRep: one replica in a backend's memory */

#include <math.h>
#include <stdint.h>

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

/* Every unit's new state; units [lo, hi) are clamped in a clamped phase. */
MS_FN void ms_unit_pass(MsTeam t, const MsBody *b, int clamped_phase, int lo, int hi, int learn) {
  MsRep *r = b->r;
  const MsConst *k = b->k;
  MsSpan sp = ms_span(t, b->d.H + b->d.V);
  for (int i = sp.lo; i < sp.hi; i += sp.step) {
    int u = ms_unit(&b->d, i);
    float r0 = r->rho[u];
    MsUnitStep st = ms_unit_step(k, r->s[u], r->v[u], r0, r->dot[u], r->b[u], clamped_phase,
                                 u >= lo && u < hi, r->tgt[u]);
    float r1 = ms_rho(st.s);
    if (learn) {
      MsLearn l = ms_learn(k, r0, r1, st.ds);
      r->ca[u] = l.a;
      r->cx[u] = l.x;
      r->ca2[u] = l.a2;
      r->cx2[u] = l.x2;
      r->b[u] = r->b[u] + l.db;
    }
    r->s[u] = st.s;
    r->v[u] = st.v;
    r->rho[u] = r1;
  }
}

/* The update terms a learning iteration leaves pending. */
MS_FN int ms_terms(const MsConst *k) { return k->rule == MS_RULE_PRE && k->smoothing ? 2 : 1; }

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
    if (i >= d->P && y >= 0) r->tgt[d->Hp + i] = ms_label_target(i - d->P == y, b->k->data_range);
  }
  MS_SYNC();
}

/* Algorithm 1 for one training image: T cycles of (clamped phase with learning, free
 * phase). */
MS_FN void ms_present(MsTeam t, const MsBody *b, const float *x, int y) {
  const MsDims *d = &b->d;
  ms_set_targets(t, b, x, y);
  int pending = 0;
  for (int c = 0; c < b->k->cycles; c++) {
    ms_phase(t, b, 1, d->Hp, d->Hp + d->V, 1, &pending);
    ms_phase(t, b, 0, 0, 0, 0, &pending);
  }
}

/* The label the label units show: the first of the largest states. Every thread of the
 * team reads it (nothing is written). */
MS_FN int ms_label_read(const MsBody *b) {
  const MsDims *d = &b->d;
  const float *s = b->r->s + d->Hp + d->P;
  int best = 0;
  for (int c = 1; c < d->C; c++)
    if (s[c] > s[best]) best = c;
  return best;
}

MS_FN void ms_keep(MsTeam t, const MsBody *b, int restore) {
  MsRep *r = b->r;
  int n = b->d.Np;
  for (int u = t.tid; u < n; u += t.nth) {
    if (restore) {
      r->s[u] = r->keep[u];
      r->v[u] = r->keep[n + u];
      r->rho[u] = r->keep[2 * n + u];
    } else {
      r->keep[u] = r->s[u];
      r->keep[n + u] = r->v[u];
      r->keep[2 * n + u] = r->rho[u];
    }
  }
  MS_SYNC();
}

/* Test-procedure accuracy over images 0..n-1 of (x, y): pixels clamped, test_cycles of
 * (clamped, free), no learning; the label read after the last clamped phase (acc[0]) and
 * after the last free phase (acc[1]). The state runs on from image to image and is
 * restored afterwards, so a read-out never changes training. */
MS_FN void ms_read_accuracy(MsTeam t, const MsBody *b, const float *x, const int *y, int n,
                            float *acc) {
  const MsDims *d = &b->d;
  int hits_c = 0, hits_f = 0, pending = 0;
  ms_keep(t, b, 0);
  for (int i = 0; i < n; i++) {
    ms_set_targets(t, b, x + (size_t)i * d->P, -1);
    int pc = 0, pf = 0;
    for (int c = 0; c < b->k->test_cycles; c++) {
      ms_phase(t, b, 1, d->Hp, d->Hp + d->P, 0, &pending);
      pc = ms_label_read(b);
      ms_phase(t, b, 0, 0, 0, 0, &pending);
      pf = ms_label_read(b);
    }
    hits_c += pc == y[i];
    hits_f += pf == y[i];
    MS_SYNC(); /* every thread has read before the next image changes the state */
  }
  ms_keep(t, b, 1);
  acc[0] = n ? (float)hits_c / (float)n : NAN;
  acc[1] = n ? (float)hits_f / (float)n : NAN;
}

/* Generation: for each label and sample, a random state U(-state_scale, state_scale)
 * with zero velocity, the label clamped for test_cycles of (clamped, free); the pixel
 * states after the last clamped phase go to out[(label * gen_samples + q) * P + pixel]. */
MS_FN void ms_generate(MsTeam t, const MsBody *b, int record, float *out) {
  const MsDims *d = &b->d;
  MsRep *r = b->r;
  const MsConst *k = b->k;
  int pending = 0;
  ms_keep(t, b, 0);
  for (int c = 0; c < d->C; c++)
    for (int q = 0; q < k->gen_samples; q++) {
      uint32_t sample = (uint32_t)(c * k->gen_samples + q);
      for (int i = t.tid; i < d->H + d->V; i += t.nth) {
        int u = ms_unit(&b->d, i);
        float z = ap_u01(ap_rng_u32(k->seed, AP_RNG_STATE, (uint32_t)record, sample, (uint32_t)i));
        r->s[u] = (z - 0.5f) * 2.0f * k->state_scale;
        r->v[u] = 0.0f;
        r->rho[u] = ms_rho(r->s[u]);
      }
      MS_SYNC();
      ms_set_targets(t, b, NULL, c);
      for (int cy = 0; cy < k->test_cycles; cy++) {
        ms_phase(t, b, 1, d->Hp + d->P, d->Hp + d->V, 0, &pending);
        if (cy == k->test_cycles - 1 && t.tid == 0)
          for (int px = 0; px < d->P; px++) out[(size_t)sample * d->P + px] = r->s[d->Hp + px];
        ms_phase(t, b, 0, 0, 0, 0, &pending);
      }
    }
  ms_keep(t, b, 1);
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

/* Mean |W| over the real weights, mean and max |s|, and the energy E of eq. 3 (with
 * W[j->i] for the pair's term: -1/2 sum_i rho_i sum_j W[j->i] rho_j). Needs a row pass
 * (no update pending) before it; thread 0 only. Returns whether everything is finite. */
MS_FN int ms_measure(const MsBody *b, float *rec) {
  const MsDims *d = &b->d;
  const MsRep *r = b->r;
  const MsSeries *ser = b->ser;
  double sw = 0.0, ss = 0.0, s2 = 0.0, e_pair = 0.0, e_bias = 0.0, fin = 0.0;
  float smax = 0.0f;
  for (int i = 0; i < d->H; i++) {
    const float *w = r->wh + (size_t)i * d->Np;
    for (int j = 0; j < d->H; j++) sw += fabsf(w[j]);
    for (int j = 0; j < d->V; j++) sw += fabsf(w[d->Hp + j]);
  }
  for (int i = 0; i < d->V; i++)
    for (int j = 0; j < d->H; j++) sw += fabsf(r->wv[(size_t)i * d->Hp + j]);
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
  double n_w = (double)d->H * (d->H - 1) + 2.0 * d->H * d->V;
  rec[ser->mean_abs_w] = (float)(sw / n_w);
  rec[ser->mean_abs_s] = (float)(ss / (d->H + d->V));
  rec[ser->max_abs_s] = smax;
  rec[ser->energy] = (float)(0.5 * s2 - 0.5 * e_pair - e_bias);
  return isfinite(sw) && isfinite(fin) && isfinite(e_pair);
}

/* Record e of one replica: its presentations, then the measures and read-outs; rec is the
 * replica's record of ser->width floats. */
MS_FN void ms_record(MsTeam t, const MsBody *b, int e, float *rec) {
  const MsConst *k = b->k;
  const MsSeries *ser = b->ser;
  const ApData *data = b->data;
  int P = b->d.P;
  if (b->r->frozen) {
    if (t.tid == 0) {
      for (int i = 0; i < ser->width; i++) rec[i] = NAN;
      rec[ser->diverged] = 1.0f;
    }
    return;
  }
  for (int p = 0; p < k->presentations; p++) {
    long long n = (long long)e * k->presentations + p;
    int img = ms_image_of(t, b, n);
    ms_present(t, b, data->x_train + (size_t)img * P, data->y_train[img]);
  }
  ms_row_pass(t, b, 0);
  MS_SYNC();
  if (t.tid == 0) {
    for (int i = 0; i < ser->width; i++) rec[i] = NAN;
    b->r->frozen = !ms_measure(b, rec);
    if (b->r->frozen)
      for (int i = 0; i < ser->width; i++) rec[i] = NAN;
    rec[ser->diverged] = b->r->frozen ? 1.0f : 0.0f;
  }
  MS_SYNC();
  if (b->r->frozen) return;
  float acc[2];
  if (k->n_test > 0) {
    ms_read_accuracy(t, b, data->x_val, data->y_val, k->n_test, acc);
    if (t.tid == 0) rec[ser->test_acc_c] = acc[0], rec[ser->test_acc_f] = acc[1];
  }
  if (k->train_eval > 0) {
    ms_read_accuracy(t, b, data->x_train, data->y_train, k->train_eval, acc);
    if (t.tid == 0) rec[ser->train_acc_c] = acc[0], rec[ser->train_acc_f] = acc[1];
  }
  if (k->full_test_every > 0 && (e + 1) % k->full_test_every == 0) {
    ms_read_accuracy(t, b, data->x_val, data->y_val, data->n_val, acc);
    if (t.tid == 0) rec[ser->full_acc_c] = acc[0], rec[ser->full_acc_f] = acc[1];
  }
  if (k->gen_samples > 0 && ser->generated >= 0 && (e + 1) % k->gen_every == 0)
    ms_generate(t, b, e, rec + ser->generated);
  MS_SYNC();
}

#endif
