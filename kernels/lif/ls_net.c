/* The network of one replica (ls_net.h). */
#include "ls_net.h"

#include "../core/ap_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every projection of the model, in a fixed order; top-down ones only where topdown is
 * on (their ids stay the same either way). */
int ls_projections(const LsParams *p, LsProj *out) {
  int n = 0;
  static const struct {
    int pre_layer, pre_type, post_layer, post_type;
  } local[] = {
#define X(nm, what, pl, pt, ql, qt, pp, ww)                                                        \
  {.pre_layer = pl, .pre_type = pt, .post_layer = ql, .post_type = qt},
      LS_LOCAL(X)
#undef X
  };
  for (int a = 0; a < 3; a++)
    for (int m = 0; m < LS_NLOCAL; m++)
      out[n++] = (LsProj){.id = a * LS_NLOCAL + m,
                          .pre = ls_pop(a, local[m].pre_layer, local[m].pre_type),
                          .post = ls_pop(a, local[m].post_layer, local[m].post_type),
                          .p = p->p_local[m],
                          .w = p->w_local[m],
                          .plastic = 0};
  int id = 3 * LS_NLOCAL;
  for (int src = LS_PA; src <= LS_NPA; src++) /* bottom-up: plastic */
    for (int t = LS_PYR; t <= LS_PV; t++)
      out[n++] = (LsProj){.id = id++,
                          .pre = ls_pop(src, LS_L23, LS_PYR),
                          .post = ls_pop(LS_HA, LS_L4, t),
                          .p = t == LS_PYR ? p->p_bu_pyr : p->p_bu_pv,
                          .w = t == LS_PYR ? p->w_bu_pyr : p->w_bu_pv,
                          .plastic = 1};
  for (int dst = LS_PA; dst <= LS_NPA; dst++) /* top-down: static */
    for (int t = LS_PYR; t <= LS_PV; t++, id++)
      if (p->topdown)
        out[n++] = (LsProj){.id = id,
                            .pre = ls_pop(LS_HA, LS_L23, LS_PYR),
                            .post = ls_pop(dst, LS_L23, t),
                            .p = t == LS_PYR ? p->p_td_pyr : p->p_td_pv,
                            .w = t == LS_PYR ? p->w_td_pyr : p->w_td_pv,
                            .plastic = 0};
  return n;
}

static size_t grow_capacity(size_t n);

size_t ls_net_bytes(int N, long long n_static, long long n_plastic, int packed) {
  size_t N1 = (size_t)N + 1, K = n_plastic > 0 ? (size_t)n_plastic : 1,
         S = n_static > 0 ? (size_t)n_static : 1, at = 0, a = packed ? LS_NET_PACK_ALIGN : 1;
  const LsNet *n = NULL; /* for the element sizes only */
#define ADD(f, count) at = (at + (count) * sizeof *n->f + a - 1) / a * a;
  LS_NET_ARRAYS(ADD)
#undef ADD
  if (packed) return at;
  /* the host's scol, pcol and w0 grew by doubling (grow_push): their capacity */
  size_t cs = grow_capacity((size_t)(n_static > 0 ? n_static : 0)),
         ck = grow_capacity((size_t)(n_plastic > 0 ? n_plastic : 0));
  return at + (cs > S ? cs - S : 0) * sizeof *n->scol + (ck > K ? ck - K : 0) * sizeof *n->pcol +
         ck * sizeof *n->w0;
}

void ls_net_bound(const LsParams *p, double *n_static, double *n_plastic) {
  LsDims d = ls_dims(p);
  LsProj proj[LS_MAX_PROJ];
  int np = ls_projections(p, proj);
  double mean[2] = {0, 0}, var[2] = {0, 0};
  for (int q = 0; q < np; q++) {
    double pre = d.pop0[proj[q].pre + 1] - d.pop0[proj[q].pre],
           post = d.pop0[proj[q].post + 1] - d.pop0[proj[q].post];
    double pairs = pre * (proj[q].pre == proj[q].post ? post - 1 : post), pr = proj[q].p;
    if (pr <= 0) continue;
    pr = pr > 1 ? 1 : pr;
    mean[proj[q].plastic] += pairs * pr;
    var[proj[q].plastic] += pairs * pr * (1 - pr);
  }
  *n_static = ceil(mean[0] + 5 * sqrt(var[0]));
  *n_plastic = ceil(mean[1] + 5 * sqrt(var[1]));
}

void ls_net_free(LsNet *net) {
  if (!net) return;
  free(net->pop);
  free(net->lgn);
  free(net->wfix);
  free(net->sptr);
  free(net->scol);
  free(net->pptr);
  free(net->pcol);
  free(net->w0);
  free(net->qptr);
  free(net->qsyn);
  free(net->qpre);
  free(net->pcat);
  memset(net, 0, sizeof *net);
}

typedef struct Grow {
  void *p;
  size_t n, cap, size;
} Grow;

#define GROW_FIRST 4096

/* The capacity grow_push reaches for n items. */
static size_t grow_capacity(size_t n) {
  size_t cap = n ? GROW_FIRST : 0;
  while (cap < n) cap *= 2;
  return cap;
}

static int grow_push(Grow *g, const void *x) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : GROW_FIRST;
    void *q = realloc(g->p, cap * g->size);
    if (!q) return -1;
    g->p = q, g->cap = cap;
  }
  memcpy((char *)g->p + g->n * g->size, x, g->size);
  g->n++;
  return 0;
}

/* The neurons presynaptic neuron a of projection pr reaches (global indices, ascending)
 * into out; returns their count. */
static int row_targets(const LsParams *p, const LsDims *d, const LsProj *pr, int a, uint16_t *out) {
  int n = 0, n_post = d->pop0[pr->post + 1] - d->pop0[pr->post];
  if (pr->p <= 0.0) return 0;
  for (int b0 = 0; b0 < n_post; b0 += 4) {
    philox4x32_ctr_t blk =
        ap_rng_block(p->seed, AP_RNG_CONN, (uint32_t)pr->id, (uint32_t)a, (uint32_t)(b0 / 4));
    for (int w = 0; w < 4 && b0 + w < n_post; w++) {
      int b = b0 + w;
      if (pr->pre == pr->post && a == b) continue; /* no autapses */
      if (ap_u01(blk.v[w]) < pr->p) out[n++] = (uint16_t)(d->pop0[pr->post] + b);
    }
  }
  return n;
}

/* Where the bottom-up synapses sit in the canonical W_bu (ls_bu_index). */
static void bu_frame(LsNet *net, const LsParams *p, const LsDims *d) {
  net->bu_pre[0] = d->pop0[ls_pop(LS_PA, LS_L23, LS_PYR)];
  net->bu_pre[1] = d->pop0[ls_pop(LS_NPA, LS_L23, LS_PYR)];
  net->bu_post[0] = d->pop0[ls_pop(LS_HA, LS_L4, LS_PYR)];
  net->bu_post[1] = d->pop0[ls_pop(LS_HA, LS_L4, LS_PV)];
  net->n_bu_pre = 2 * p->n_pyr;
  net->n_bu_post = p->n_pyr + p->n_pv;
}

void ls_bu_initial(const LsParams *p, float *w) {
  LsDims d = ls_dims(p);
  LsNet frame;
  memset(&frame, 0, sizeof frame);
  bu_frame(&frame, p, &d);
  LsProj proj[LS_MAX_PROJ];
  uint16_t row[LS_POP_MAX]; /* one projection's row: at most its target population */
  int np = ls_projections(p, proj);
  for (int q = 0; q < np; q++) {
    if (!proj[q].plastic) continue;
    for (int j = d.pop0[proj[q].pre]; j < d.pop0[proj[q].pre + 1]; j++) {
      int n = row_targets(p, &d, &proj[q], j - d.pop0[proj[q].pre], row);
      for (int k = 0; k < n; k++) w[ls_bu_index(&frame, j, row[k])] = (float)proj[q].w;
    }
  }
}

long long ls_bu_index(const LsNet *net, int j, int i) {
  int a = j < net->bu_pre[0] + net->n_bu_pre / 2 ? j - net->bu_pre[0]
                                                 : net->n_bu_pre / 2 + (j - net->bu_pre[1]);
  return (long long)(i - net->bu_post[0]) * net->n_bu_pre + a;
}

ap_status ls_net_build(const LsParams *p, LsNet *net) {
  memset(net, 0, sizeof *net);
  LsDims d = ls_dims(p);
  net->N = d.N;
  net->pop = calloc((size_t)d.N + 1, 1);
  net->lgn = calloc((size_t)d.N + 1, sizeof *net->lgn);
  net->wfix = calloc(LS_POPS * LS_POPS, sizeof *net->wfix);
  if (!net->pop || !net->lgn || !net->wfix) {
    ls_net_free(net);
    return AP_ERR_OSERR;
  }
  for (int q = 0; q < LS_POPS; q++)
    for (int i = d.pop0[q]; i < d.pop0[q + 1]; i++) net->pop[i] = (uint8_t)q;
  LsProj proj[LS_MAX_PROJ];
  int np = ls_projections(p, proj);
  for (int q = 0; q < np; q++)
    if (!proj[q].plastic)
      net->wfix[proj[q].pre * LS_POPS + proj[q].post] = (int64_t)llround(proj[q].w * 4294967296.0);
  /* LGN: a Bernoulli draw per cell of L4 in PA and NPA */
  for (int src = LS_PA; src <= LS_NPA; src++)
    for (int t = LS_PYR; t <= LS_PV; t++) {
      int q = ls_pop(src, LS_L4, t);
      double pr = t == LS_PYR ? p->p_lgn_pyr : p->p_lgn_pv;
      for (int b = d.pop0[q]; b < d.pop0[q + 1]; b++) {
        int local = b - d.pop0[q];
        if (ap_u01(ap_rng_u32(p->seed, AP_RNG_CONN, 100 + q, 0, (uint32_t)local)) < pr)
          net->lgn[b] = 1.0f;
      }
    }
  bu_frame(net, p, &d);

  Grow scol = {.size = sizeof(uint16_t)}, pcol = {.size = sizeof(uint16_t)},
       w0 = {.size = sizeof(float)};
  net->sptr = malloc((size_t)(d.N + 1) * sizeof *net->sptr);
  net->pptr = malloc((size_t)(d.N + 1) * sizeof *net->pptr);
  uint16_t *row = malloc((size_t)(d.N ? d.N : 1) * sizeof *row);
  if (!net->sptr || !net->pptr || !row) {
    free(row);
    goto oom;
  }
  for (int j = 0; j < d.N; j++) {
    net->sptr[j] = (uint32_t)scol.n;
    net->pptr[j] = (uint32_t)pcol.n;
    int pj = net->pop[j], a = j - d.pop0[pj];
    for (int q = 0; q < np; q++) {
      const LsProj *pr = &proj[q];
      if (pr->pre != pj) continue;
      int n = row_targets(p, &d, pr, a, row);
      float wf = (float)pr->w;
      for (int k = 0; k < n; k++)
        if (pr->plastic ? grow_push(&pcol, &row[k]) || grow_push(&w0, &wf)
                        : grow_push(&scol, &row[k])) {
          free(row);
          goto oom;
        }
    }
  }
  free(row);
  net->sptr[d.N] = (uint32_t)scol.n;
  net->pptr[d.N] = (uint32_t)pcol.n;
  net->scol = scol.p, net->pcol = pcol.p, net->w0 = w0.p;
  scol.p = pcol.p = w0.p = NULL;
  net->n_static = (long long)net->sptr[d.N];
  net->n_plastic = (long long)net->pptr[d.N];
  size_t K = (size_t)net->n_plastic;
  if (!net->scol) net->scol = malloc(sizeof *net->scol);
  if (!net->pcol) net->pcol = malloc(sizeof *net->pcol);
  if (!net->w0) net->w0 = malloc(sizeof *net->w0);
  /* by postsynaptic neuron: counting sort, synapses in CSR order within a target */
  net->qptr = calloc((size_t)d.N + 1, sizeof *net->qptr);
  net->qsyn = malloc((K ? K : 1) * sizeof *net->qsyn);
  net->qpre = malloc((K ? K : 1) * sizeof *net->qpre);
  net->pcat = malloc(K ? K : 1);
  if (!net->scol || !net->pcol || !net->w0 || !net->qptr || !net->qsyn || !net->qpre || !net->pcat)
    goto oom;
  for (size_t k = 0; k < K; k++) net->qptr[net->pcol[k] + 1]++;
  for (int i = 0; i < d.N; i++) net->qptr[i + 1] += net->qptr[i];
  uint32_t *fill = malloc((size_t)(d.N + 1) * sizeof *fill);
  if (!fill) goto oom;
  memcpy(fill, net->qptr, (size_t)(d.N + 1) * sizeof *fill);
  for (int j = 0; j < d.N; j++)
    for (uint32_t k = net->pptr[j]; k < net->pptr[j + 1]; k++) {
      int i = net->pcol[k];
      net->qsyn[fill[i]] = k;
      net->qpre[fill[i]++] = (uint16_t)j;
      int src_npa = j >= net->bu_pre[1] && j < net->bu_pre[1] + p->n_pyr;
      net->pcat[k] = (uint8_t)(2 * src_npa + (i >= net->bu_post[1]));
    }
  free(fill);
  return AP_OK;
oom:
  free(scol.p);
  free(pcol.p);
  free(w0.p);
  ls_net_free(net);
  return AP_ERR_OSERR;
}
