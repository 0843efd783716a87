/* Dividing an experiment's replicas: into shards (apical run --shard, by cost) and into
 * cohorts (replicas that share a schedule, by the model's cohort key). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct CostIdx {
  double cost;
  int r;
} CostIdx;

static int by_cost_desc(const void *a, const void *b) {
  const CostIdx *x = a, *y = b;
  if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
  return (x->r > y->r) - (x->r < y->r);
}

ap_status config_shard(ApExperiment *ex, int index, int count, const double *cost, ApError *err) {
  int R = ex->n_replicas;
  if (count < 1 || index < 0 || index >= count)
    return ap_fail(err, AP_ERR_USAGE, "--shard %d/%d: expected INDEX/COUNT with 0 <= INDEX < COUNT",
                   index, count);
  if (count > R)
    return ap_fail(err, AP_ERR_USAGE,
                   "--shard %d/%d: the experiment has %d replica%s, so at most %d shards", index,
                   count, R, R == 1 ? "" : "s", R);
  CostIdx *order = malloc((size_t)R * sizeof *order);
  double *load = calloc((size_t)count, sizeof *load);
  unsigned char *mine = calloc((size_t)R, 1);
  if (!order || !load || !mine) {
    free(order), free(load), free(mine);
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  }
  for (int r = 0; r < R; r++) order[r] = (CostIdx){cost[r], r};
  qsort(order, (size_t)R, sizeof *order, by_cost_desc);
  for (int i = 0; i < R; i++) { /* count is small next to R: a scan per replica */
    int best = 0;
    for (int k = 1; k < count; k++)
      if (load[k] < load[best]) best = k;
    load[best] += order[i].cost;
    mine[order[i].r] = best == index;
  }
  int n = 0;
  for (int r = 0; r < R; r++) n += mine[r];
  int *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
  if (!ids) {
    free(order), free(load), free(mine);
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  }
  size_t ps = ex->model->params_size;
  for (int r = 0, k = 0; r < R; r++)
    if (mine[r]) {
      ids[k] = r;
      memmove(ex->replicas + (size_t)k * ps, ex->replicas + (size_t)r * ps, ps);
      k++;
    }
  free(order), free(load), free(mine);
  ex->n_total = R;
  ex->n_replicas = n;
  ex->shard_index = index;
  ex->shard_count = count;
  free(ex->shard_ids);
  ex->shard_ids = ids;
  return AP_OK;
}

typedef struct KeyIdx {
  uint64_t key;
  int r;
} KeyIdx;

static int by_key(const void *a, const void *b) {
  const KeyIdx *x = a, *y = b;
  if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
  return (x->r > y->r) - (x->r < y->r);
}

int config_cohorts(const ApExperiment *ex, int *cohort_of) {
  int R = ex->n_replicas, n = 0;
  KeyIdx *k = malloc((size_t)(R ? R : 1) * sizeof *k);
  int *first =
      malloc((size_t)(R ? R : 1) * sizeof *first); /* per sorted group: its first replica */
  if (!k || !first) {
    free(k);
    free(first);
    return -1;
  }
  for (int r = 0; r < R; r++) k[r] = (KeyIdx){ex->model->cohort_key(config_params(ex, r)), r};
  qsort(k, (size_t)R, sizeof *k, by_key);
  /* cohort ids in order of first appearance: number the groups by their first replica */
  int groups = 0;
  for (int i = 0; i < R; i++) {
    if (i == 0 || k[i].key != k[i - 1].key) first[groups++] = k[i].r;
    cohort_of[k[i].r] = groups - 1;
  }
  /* rank the groups by their first replica */
  KeyIdx *g = malloc((size_t)(groups ? groups : 1) * sizeof *g);
  int *rank = malloc((size_t)(groups ? groups : 1) * sizeof *rank);
  if (!g || !rank) {
    free(k), free(first), free(g), free(rank);
    return -1;
  }
  for (int i = 0; i < groups; i++) g[i] = (KeyIdx){(uint64_t)first[i], i};
  qsort(g, (size_t)groups, sizeof *g, by_key);
  for (int i = 0; i < groups; i++) rank[g[i].r] = i;
  for (int r = 0; r < R; r++) cohort_of[r] = rank[cohort_of[r]];
  n = groups;
  free(k), free(first), free(g), free(rank);
  return n;
}
