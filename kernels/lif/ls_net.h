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

#ifdef __cplusplus
extern "C" {
#endif
int ls_projections(const LsParams *p, LsProj *out);
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
