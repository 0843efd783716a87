/* One MSTDP replica in a backend's memory: the internal layout (MsRep, over the padded
 * sizes of ms_params.h's MsDims), how one block of floats is cut into it, and the
 * conversion from and to the canonical state. The body (ms_body.h) runs on an MsRep; the
 * backends' host code (ms_cpu.c, ms_cuda.cu) lays it out and converts with these, so a
 * replica has the same internal layout in host and device memory. */
#ifndef MS_REP_H
#define MS_REP_H

#include "ms_equations.h"

#include <stddef.h>
#include <stdint.h>

/* One replica in a backend's memory (internal layout: ms_params.h, MsDims). */
typedef struct MsRep {
  float *wh;                    /* [H][Np]: hidden receivers */
  float *wv;                    /* [V][Hp]: visible receivers */
  float *b, *s, *v, *rho, *dot; /* [Np] */
  float *ca, *ca2;              /* [Np] the pending update's row coefficients */
  float *cx, *cx2;              /* [Np] and its column vectors (pads stay 0) */
  float *tgt;                   /* [Np] clamp targets of the visible units */
  float *alt;     /* [3][Np] scratch: span's second set of rates and column vectors (ms_cuda.cu),
                     the measures' row sums (ms_measure_rows) */
  float *rec;     /* [Fp] the record's series so far (canonical record/series; 0 between records) */
  float *kept;    /* [2][Np] s, v at the training's end, while the read-outs run (record/kept) */
  uint32_t *perm; /* [n_train] the training order of pass perm_pass (shuffled) */
  long long perm_pass;
  int frozen; /* diverged: the replica no longer runs */
} MsRep;

/* A record's series floats, padded to 16. */
static inline size_t ms_rep_fp(const MsDims *d) {
  return ((size_t)d->F + MS_PAD - 1) / MS_PAD * MS_PAD;
}

/* The floats of one replica's block: its weights, 15 vectors of Np and the record's
 * series. A multiple of 16, so blocks laid one after the other keep every row 64-byte
 * aligned. */
static inline size_t ms_rep_floats(const MsDims *d) {
  return (size_t)d->H * d->Np + (size_t)d->V * d->Hp + 15 * (size_t)d->Np + ms_rep_fp(d);
}

/* The CUDA cohort's arrays in bytes (ms_cuda.cu allocates from these numbers and the
 * estimate adds them up, ms_model.c): per replica, on the device and on the host. */
#define MS_CUDA_CHUNK 256                        /* records per launch */
#define MS_CUDA_SERIES_BUDGET ((size_t)64 << 20) /* bytes of device series a cohort may use */
typedef struct MsCudaSize {
  int chunk; /* records per launch */
  size_t d_mem, d_perm, d_reps, d_const, d_series, d_per_replica;
  size_t h_rows, h_mem, h_reps, h_series, h_const;
} MsCudaSize;

/* For a cohort of R replicas of dims d, F series floats per record, n_train samples. */
static inline MsCudaSize ms_cuda_size(const MsDims *d, int R, int F, int n_train) {
  MsCudaSize z;
  size_t chunk = MS_CUDA_SERIES_BUDGET / ((size_t)(R > 0 ? R : 1) * (size_t)F * sizeof(float));
  z.chunk = chunk < 1 ? 1 : chunk > MS_CUDA_CHUNK ? MS_CUDA_CHUNK : (int)chunk;
  z.d_mem = z.h_mem = ms_rep_floats(d) * sizeof(float);
  z.d_perm = (size_t)(n_train > 0 ? n_train : 1) * sizeof(uint32_t);
  z.d_reps = z.h_reps = sizeof(MsRep);
  z.d_const = z.h_const = sizeof(MsConst);
  z.d_series = z.h_series = (size_t)z.chunk * (size_t)F * sizeof(float);
  z.d_per_replica = z.d_mem + z.d_perm + z.d_reps + z.d_const + z.d_series;
  z.h_rows = sizeof(int);
  return z;
}

/* Points r's arrays into the block m of ms_rep_floats floats (host or device memory;
 * perm, perm_pass and frozen are left to the caller). */
static inline void ms_rep_carve(MsRep *r, float *m, const MsDims *d) {
  size_t np = (size_t)d->Np;
  r->wh = m, m += (size_t)d->H * np;
  r->wv = m, m += (size_t)d->V * d->Hp;
#define TAKE(f, k) r->f = m, m += (k)*np
  TAKE(b, 1);
  TAKE(s, 1);
  TAKE(v, 1);
  TAKE(rho, 1);
  TAKE(dot, 1);
  TAKE(ca, 1);
  TAKE(ca2, 1);
  TAKE(cx, 1);
  TAKE(cx2, 1);
  TAKE(tgt, 1);
  TAKE(alt, 3);
  TAKE(kept, 2);
#undef TAKE
  r->rec = m;
}

/* The floats of one replica's canonical state (ms_params.h). */
static inline size_t ms_canon_floats(const MsDims *d) {
  size_t H = (size_t)d->H, V = (size_t)d->V;
  return 2 * H * V + H * H + 3 * (H + V) + 1 + (size_t)d->F + 2 * (H + V);
}

/* Which way ms_convert copies. */
typedef enum { MS_INTO_REP, MS_INTO_CANON } MsConvertDir;

/* Canonical (ms_params.h) <-> internal, one replica in host memory; MS_INTO_REP: the
 * replica then also gets its rates, a zero self weight and its frozen flag. Pads are not
 * touched. */
static inline void ms_convert(const MsDims *d, MsRep *r, float *canon, MsConvertDir way) {
  const int dir = way == MS_INTO_CANON;
  size_t H = (size_t)d->H, V = (size_t)d->V, Np = (size_t)d->Np, Hp = (size_t)d->Hp;
  float *p = canon;
#define MOVE(dst, src) (dir ? (*(src) = *(dst)) : (*(dst) = *(src)))
  for (size_t i = 0; i < H; i++) /* W_vh */
    for (size_t j = 0; j < V; j++) MOVE(&r->wh[i * Np + Hp + j], p++);
  for (size_t i = 0; i < H; i++) /* W_hh */
    for (size_t j = 0; j < H; j++) MOVE(&r->wh[i * Np + j], p++);
  for (size_t i = 0; i < V; i++) /* W_hv */
    for (size_t j = 0; j < H; j++) MOVE(&r->wv[i * Hp + j], p++);
  for (size_t i = 0; i < V; i++) MOVE(&r->b[Hp + i], p++);
  for (size_t i = 0; i < H; i++) MOVE(&r->b[i], p++);
  for (size_t i = 0; i < V; i++) MOVE(&r->s[Hp + i], p++);
  for (size_t i = 0; i < H; i++) MOVE(&r->s[i], p++);
  for (size_t i = 0; i < V; i++) MOVE(&r->v[Hp + i], p++);
  for (size_t i = 0; i < H; i++) MOVE(&r->v[i], p++);
  if (dir)
    *p++ = (float)r->frozen; /* status/diverged */
  else
    r->frozen = *p++ != 0.0f;
  for (int i = 0; i < d->F; i++) MOVE(&r->rec[i], p++); /* record/series */
  for (int q = 0; q < 2; q++) {                         /* record/kept: s, then v */
    float *k = r->kept + q * Np;
    for (size_t i = 0; i < V; i++) MOVE(&k[Hp + i], p++);
    for (size_t i = 0; i < H; i++) MOVE(&k[i], p++);
  }
#undef MOVE
  if (!dir) {
    for (size_t i = 0; i < H; i++) r->wh[i * Np + i] = 0.0f; /* no self-connection */
    for (size_t u = 0; u < H; u++) r->rho[u] = ms_rho(r->s[u]);
    for (size_t u = Hp; u < Hp + V; u++) r->rho[u] = ms_rho(r->s[u]);
  }
}

#endif
