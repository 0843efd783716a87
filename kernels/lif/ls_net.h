/* One replica's network, built on the host from its seed (both backends build it here
 * and copy it): pairwise Bernoulli connectivity without autapses, stored by presynaptic
 * neuron (CSR) with 16-bit targets; static weights are one per (pre, post) population
 * pair, plastic (bottom-up) synapses carry their own weight and are also indexed by
 * postsynaptic neuron for the facilitation that a postsynaptic spike causes.
 *
 * Draws (Philox, ap_rng.h, domain AP_RNG_CONN): projection q, presynaptic neuron a of its
 * population, a block of four postsynaptic neurons b / 4 of theirs, word b % 4: a
 * synapse exists when u01 < p. The projection ids do not depend on other keys, so two
 * replicas with the same seed and topdown on and off share every other synapse. */
#ifndef LS_NET_H
#define LS_NET_H

#include "ls_params.h"

#include <stdint.h>

#define AP_RNG_CONN 6  /* network: c1 = projection, c2 = presynaptic, c3 = postsynaptic / 4 */
#define AP_RNG_INPUT 7 /* Poisson inputs: c1 = step, c2 = 0 background / 1 LGN, c3 = neuron / 4 */

/* A projection: every ordered pair of its populations is a synapse with probability p. */
typedef struct LsProj {
  int id, pre, post; /* id: the draws' projection number; populations */
  double p, w;       /* w: pA */
  int plastic;
} LsProj;

enum { LS_MAX_PROJ = 3 * LS_NLOCAL + 8 };

typedef struct LsNet {
  int N;
  uint8_t *pop;  /* [N]: neuron -> population */
  int64_t *wfix; /* [LS_POPS][LS_POPS]: static weight of a (pre, post) pair, fixed point */
  float *lgn;    /* [N]: 1 where the neuron gets an LGN train (its assembly's rate), else 0 */
  /* static synapses of neuron j: scol[sptr[j] .. sptr[j+1]) */
  uint32_t *sptr;
  uint16_t *scol;
  /* plastic synapses of neuron j: k in pptr[j] .. pptr[j+1], target pcol[k], weight w0[k] */
  uint32_t *pptr;
  uint16_t *pcol;
  float *w0;
  /* plastic synapses onto neuron i: qsyn[qptr[i] .. qptr[i+1]) (synapse k, its pre qpre) */
  uint32_t *qptr, *qsyn;
  uint16_t *qpre;
  uint8_t *pcat; /* [k]: 2 (source NPA) + (target PV) */
  long long n_static, n_plastic;
  /* the canonical W_bu [post][pre]: pre = PA L2/3 Pyr then NPA L2/3 Pyr, post = HA L4 Pyr then
   * HA L4 PV */
  int bu_pre[2], bu_post[2]; /* first neuron of each, and: */
  int n_bu_pre, n_bu_post;
} LsNet;

/* X(field, count): the network arrays the step body reads, with their element counts in
 * N1 = N + 1, S and K (the static and the plastic synapses, each at least 1). ls_cuda.cu
 * packs them in this order for the device; ls_net_bytes adds up their sizes. */
#define LS_NET_ARRAYS(X)                                                                           \
  X(pop, N1)                                                                                       \
  X(lgn, N1)                                                                                       \
  X(wfix, (size_t)LS_POPS *LS_POPS)                                                                \
  X(sptr, N1)                                                                                      \
  X(scol, S)                                                                                       \
  X(pptr, N1)                                                                                      \
  X(pcol, K)                                                                                       \
  X(qptr, N1)                                                                                      \
  X(qsyn, K)                                                                                       \
  X(qpre, K)                                                                                       \
  X(pcat, K)
#define LS_NET_PACK_ALIGN 16 /* bytes: where each packed array starts */

#define LS_CUDA_CHUNK 256                        /* records per launch */
#define LS_CUDA_SERIES_BUDGET ((size_t)64 << 20) /* bytes of device series a cohort may use */
#ifndef LS_RASTER_BUDGET /* bytes of device raster buffer a cohort may use (tests shrink it) */
#define LS_RASTER_BUDGET ((size_t)256 << 20)
#endif

/* The memory of a CUDA cohort (ls_cuda.cu allocates from these numbers, the estimate adds
 * them up): per replica and launch. */
typedef struct LsCudaSize {
  int chunk;            /* records of series one launch may write */
  long long rast_steps; /* the most raster steps one launch may cover */
  long long rast_cap;   /* raster pairs one launch may write per replica (0: no raster) */
  size_t per_launch;    /* bytes per replica: the series, the raster, LsRep, LsConst, a count */
} LsCudaSize;

#ifdef __cplusplus
extern "C" {
#endif
int ls_projections(const LsParams *p, LsProj *out);
/* Bytes of a network's arrays: packed (LS_NET_ARRAYS in ls_cuda.cu's order and alignment)
 * or as ls_net_build allocates them on the host (those and w0). */
size_t ls_net_bytes(int N, long long n_static, long long n_plastic, int packed);
/* Synapse counts that a replica's network stays below but for a 5-sigma draw (the
 * expected count plus five standard deviations of the Bernoulli draws), for estimates
 * made without building it. */
void ls_net_bound(const LsParams *p, double *n_static, double *n_plastic);
/* For a CUDA cohort of R replicas of dims d with F series floats per record, whose
 * shortest refractory period is ref_min steps (ls_cpu.c, where the body's types are
 * plain C). */
LsCudaSize ls_cuda_size(const LsDims *d, int R, int F, int ref_min);
/* The memory of a cohort on the CPU and on CUDA (ls_cpu.c), for ApModel.memory. */
ap_status ls_memory(const char *backend, const ApCohortSpec *spec, ApCohortMem *out, ApError *err);
/* AP_ERR_OSERR when out of memory. */
ap_status ls_net_build(const LsParams *p, LsNet *net);
void ls_net_free(LsNet *net);
/* The initial bottom-up weights into the canonical W_bu (prefilled with NaN), drawing
 * only the bottom-up synapses (cheaper than ls_net_build). */
void ls_bu_initial(const LsParams *p, float *w);
/* The canonical index of plastic synapse k's W_bu entry ([post][pre]); k's pre is j. */
long long ls_bu_index(const LsNet *net, int j, int i);
#ifdef __cplusplus
}
#endif

#endif
