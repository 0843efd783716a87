/* One LIF-STDP replica in a backend's memory: how one block of bytes is cut into its
 * state (LsRep, ls_body.h), how its network's arrays are pointed at, and the conversion
 * from and to the canonical state (ls_model.c's layout). The backends lay a replica out
 * with these, so it has the same internal layout in host and device memory. */
#ifndef LS_REP_H
#define LS_REP_H

#include "ls_body.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes of one replica's state block (a multiple of 64). */
static inline size_t ls_rep_bytes(const LsDims *d, long long n_plastic) {
  size_t N = (size_t)d->N, D = (size_t)d->D, K = (size_t)n_plastic;
  size_t b = (2 * D * N + 4) * sizeof(int64_t) + (7 * N + (D + 1) * N + 2 * K) * sizeof(float) +
             (3 * N + 4 + LS_POPS) * sizeof(int) + 2 * (N + 4) * sizeof(uint32_t) +
             N * sizeof(int) + 2 * N * sizeof(float);
  return (b + 63) / 64 * 64;
}

/* Points r's state into the block m (host or device memory) and its network into the
 * network arrays given (the same memory space); the raster is left to the caller. */
static inline void ls_rep_carve(LsRep *r, void *m, const LsDims *d, const LsNet *net,
                                const LsNet *arrays) {
  size_t N = (size_t)d->N, D = (size_t)d->D, K = (size_t)net->n_plastic;
  char *p = (char *)m;
  r->ring_ex = (int64_t *)p, p += D * N * sizeof(int64_t);
  r->ring_in = (int64_t *)p, p += D * N * sizeof(int64_t);
  r->wsum = (int64_t *)p, p += 4 * sizeof(int64_t);
#define TAKE(f, T, n) r->f = (T *)p, p += (n) * sizeof(T)
  TAKE(v, float, N);
  TAKE(i_ex, float, N);
  TAKE(di_ex, float, N);
  TAKE(i_in, float, N);
  TAKE(di_in, float, N);
  TAKE(kplus, float, N);
  TAKE(kminus, float, N);
  TAKE(khist, float, (D + 1) * N);
  TAKE(w, float, K);
  TAKE(wrep, float, K);
  TAKE(refr, int, N);
  TAKE(age, int, N);
  TAKE(spk, int, N);
  TAKE(n_spk, int, 1);
  TAKE(n_rast, int, 1);
  TAKE(pop_count, int, LS_POPS);
  TAKE(now_ex, float, N);
  TAKE(now_in, float, N);
  TAKE(draw_bg, uint32_t, N + 4);
  TAKE(draw_lgn, uint32_t, N + 4);
  TAKE(fired, int, N);
  TAKE(status, int, 2);
#undef TAKE
  r->pop = arrays->pop;
  r->lgn = arrays->lgn;
  r->wfix = arrays->wfix;
  r->sptr = arrays->sptr;
  r->scol = arrays->scol;
  r->pptr = arrays->pptr;
  r->pcol = arrays->pcol;
  r->qptr = arrays->qptr;
  r->qsyn = arrays->qsyn;
  r->qpre = arrays->qpre;
  r->pcat = arrays->pcat;
  r->n_plastic = (int)net->n_plastic;
  for (int c = 0; c < 4; c++) r->cat_n[c] = 0;
  for (long long k = 0; k < net->n_plastic; k++) r->cat_n[net->pcat[k]]++;
  r->post0 = net->bu_post[0];
  r->post1 = net->bu_post[0] + net->n_bu_post;
}

/* A fixed-point input as three floats that hold it exactly, and back. */
static inline void ls_fix_split(int64_t x, float *c0, float *c1, float *c2) {
  *c0 = (float)(x >> 32); /* |pending input| < 2^24 pA */
  *c1 = (float)((x >> 16) & 0xffff);
  *c2 = (float)(x & 0xffff);
}
static inline int64_t ls_fix_join(float c0, float c1, float c2) {
  return (int64_t)((uint64_t)(int64_t)c0 << 32) + ((int64_t)c1 << 16) + (int64_t)c2;
}

/* Which way ls_convert copies. */
typedef enum { LS_INTO_REP, LS_INTO_CANON } LsConvertDir;

/* Canonical (ls_model.c's layout, in its field order) <-> internal, one replica in host
 * memory. */
static inline void ls_convert(const LsDims *d, const LsNet *net, LsRep *r, float *canon,
                              LsConvertDir into) {
  const int dir = into == LS_INTO_CANON;
  size_t N = (size_t)d->N, D = (size_t)d->D;
  size_t nbu = (size_t)net->n_bu_post * net->n_bu_pre;
  float *w = canon, *wr = w + nbu, *p = wr + nbu;
  if (dir) {
    for (size_t i = 0; i < nbu; i++) w[i] = wr[i] = NAN;
  }
  for (int j = 0; j < net->N; j++)
    for (uint32_t k = net->pptr[j]; k < net->pptr[j + 1]; k++) {
      long long at = ls_bu_index(net, j, net->pcol[k]);
      if (dir)
        w[at] = r->w[k], wr[at] = r->wrep[k];
      else
        r->w[k] = w[at], r->wrep[k] = wr[at];
    }
#define MOVE(arr, n)                                                                               \
  do {                                                                                             \
    if (dir)                                                                                       \
      memcpy(p, r->arr, (n) * sizeof(float));                                                      \
    else                                                                                           \
      memcpy(r->arr, p, (n) * sizeof(float));                                                      \
    p += (n);                                                                                      \
  } while (0)
#define MOVE_INT(arr)                                                                              \
  do {                                                                                             \
    for (size_t i = 0; i < N; i++) {                                                               \
      if (dir)                                                                                     \
        p[i] = (float)r->arr[i];                                                                   \
      else                                                                                         \
        r->arr[i] = (int)p[i];                                                                     \
    }                                                                                              \
    p += N;                                                                                        \
  } while (0)
  MOVE(v, N);
  MOVE(i_ex, N);
  MOVE(di_ex, N);
  MOVE(i_in, N);
  MOVE(di_in, N);
  MOVE_INT(refr);
  MOVE_INT(age);
  MOVE(kplus, N);
  MOVE(kminus, N);
  MOVE(khist, (D + 1) * N);
#undef MOVE
#undef MOVE_INT
  int64_t *rings[2] = {r->ring_ex, r->ring_in};
  for (int q = 0; q < 2; q++, p += 3 * D * N)
    for (size_t i = 0; i < D * N; i++) {
      if (dir)
        ls_fix_split(rings[q][i], &p[i], &p[D * N + i], &p[2 * D * N + i]);
      else
        rings[q][i] = ls_fix_join(p[i], p[D * N + i], p[2 * D * N + i]);
    }
  if (dir) {
    p[0] = (float)r->status[0]; /* status/diverged */
  } else {
    /* a record number as a float, exact below 2^24; anything else is no record */
    r->status[0] = p[0] >= 1.0f && p[0] <= 16777216.0f ? (int)p[0] : 0;
    r->status[1] = 0;
  }
  p += 1;
  for (int q = 0; q < LS_POPS; q++) { /* status/spike_counts: two floats exact below 2^24 */
    if (dir) {
      p[2 * q] = (float)(r->pop_count[q] >> 24);
      p[2 * q + 1] = (float)(r->pop_count[q] & 0xffffff);
    } else {
      float hi = p[2 * q], lo = p[2 * q + 1];
      int ok = hi >= 0.0f && hi < 128.0f && lo >= 0.0f && lo < 16777216.0f;
      r->pop_count[q] = ok ? ((int)hi << 24) + (int)lo : 0;
    }
  }
  if (!dir) *r->n_spk = 0;
}

#endif
