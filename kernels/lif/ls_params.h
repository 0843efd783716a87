/* LIF assemblies with STDP and nonspecific top-down input (shared/MODELS.md §3) as data:
 * the parameters a replica owns (every number of the paper's Tables 1-2), the
 * populations and projections of the network, and the per-replica constants the step
 * uses. Shared by the model description (ls_model.c), the network builder (ls_net.c),
 * the step body (ls_body.h) and the backends.
 *
 * Populations, in this order everywhere (neuron indices, rates, rasters): for each
 * assembly PA, NPA, HA; for each layer L2/3, L4; Pyr then PV. Population p = 4 a + 2 l + t
 * holds n_pyr (t = 0) or n_pv (t = 1) neurons; neuron indices run through the
 * populations in order. Potentials are kept relative to E_L, as NEST keeps them. */
#ifndef LS_PARAMS_H
#define LS_PARAMS_H

#include "../core/ap_defs.h"
#include "../model.h"

#include <stdint.h>

enum { LS_PA = 0, LS_NPA = 1, LS_HA = 2 };
enum { LS_L23 = 0, LS_L4 = 1 };
enum { LS_PYR = 0, LS_PV = 1 };
enum { LS_POPS = 12 };
enum { LS_PSC_ALPHA = 0, LS_PSC_EXP = 1 };
#define LS_POP_MAX 10000 /* neurons of one population at most (the keys n_pyr, n_pv) */

AP_HD int ls_pop(int assembly, int layer, int type) { return 4 * assembly + 2 * layer + type; }

/* The projections within each assembly (Table 1): name, what it is, pre layer and type,
 * post layer and type, probability, PSC amplitude (pA). */
// clang-format off
#define LS_LOCAL(X)                                                                                \
  X(l23pyr_l23pyr, "L2/3 Pyr -> L2/3 Pyr", LS_L23, LS_PYR, LS_L23, LS_PYR, 0.4, 40.0)              \
  X(l23pyr_l23pv, "L2/3 Pyr -> L2/3 PV", LS_L23, LS_PYR, LS_L23, LS_PV, 0.6, 40.0)                 \
  X(l23pv_l23pyr, "L2/3 PV -> L2/3 Pyr", LS_L23, LS_PV, LS_L23, LS_PYR, 1.0, -40.0)                \
  X(l23pv_l23pv, "L2/3 PV -> L2/3 PV", LS_L23, LS_PV, LS_L23, LS_PV, 1.0, -40.0)                   \
  X(l4pyr_l23pyr, "L4 Pyr -> L2/3 Pyr", LS_L4, LS_PYR, LS_L23, LS_PYR, 0.6, 80.0)                  \
  X(l4pyr_l23pv, "L4 Pyr -> L2/3 PV", LS_L4, LS_PYR, LS_L23, LS_PV, 0.4, 40.0)                     \
  X(l4pyr_l4pyr, "L4 Pyr -> L4 Pyr", LS_L4, LS_PYR, LS_L4, LS_PYR, 0.4, 40.0)                      \
  X(l4pyr_l4pv, "L4 Pyr -> L4 PV", LS_L4, LS_PYR, LS_L4, LS_PV, 0.6, 40.0)                         \
  X(l4pv_l4pyr, "L4 PV -> L4 Pyr", LS_L4, LS_PV, LS_L4, LS_PYR, 1.0, -40.0)                        \
  X(l4pv_l4pv, "L4 PV -> L4 PV", LS_L4, LS_PV, LS_L4, LS_PV, 1.0, -40.0)
// clang-format on

#define LS_COUNT_LOCAL(n, ...) +1
enum { LS_NLOCAL = 0 LS_LOCAL(LS_COUNT_LOCAL) };
#undef LS_COUNT_LOCAL

typedef struct LsParams {
  uint64_t seed;
  int psc;     /* LS_PSC_ALPHA | LS_PSC_EXP */
  int topdown; /* 0 off, 1 on */
  int n_pyr, n_pv;
  double dt, delay; /* ms */
  double tau_m, c_m, e_l, v_th, v_reset, t_ref, i_e;
  double tau_syn_ex, tau_syn_in_pyr, tau_syn_in_pv;
  double p_local[LS_NLOCAL], w_local[LS_NLOCAL];
  double p_bu_pyr, w_bu_pyr, p_bu_pv, w_bu_pv;
  double p_td_pyr, w_td_pyr, p_td_pv, w_td_pv;
  double p_lgn_pyr, w_lgn_pyr, p_lgn_pv, w_lgn_pv;
  double rate_lgn_pa, rate_lgn_npa, rate_bg_pyr, rate_bg_pv, w_bg; /* Hz, pA */
  double tau_plus, tau_minus, lambda, alpha, mu_plus, mu_minus, wmax;
  /* [train] */
  double record_ms;                 /* simulated time per record */
  double raster_from_ms, raster_ms; /* spikes in [raster_from_ms, raster_ms) are kept as
                                     * (neuron, step) pairs */
} LsParams;

/* Poisson counts by inversion: a draw u (32 bits) gives the number of thresholds it
 * reaches; thr1[k] = 2^32 P(N <= k) rounded down, minus 1, for the k that need one (the
 * rest 2^32 - 1, never reached). */
#define LS_POIS_MAX 24 /* ls_poisson (ls_equations.h) compares with exactly this many */
typedef struct LsPoisson {
  uint32_t thr1[LS_POIS_MAX];
} LsPoisson;

/* One neuron type's propagators (NEST's iaf_psc_alpha / iaf_psc_exp, exact integration
 * of the linear subthreshold dynamics over one step h). */
typedef struct LsProp {
  float p11_ex, p21_ex, p31_ex, p32_ex; /* alpha: dI -> dI, dI -> I, dI -> V, I -> V */
  float p11_in, p21_in, p31_in, p32_in;
  float psc_ex, psc_in; /* alpha: e / tau_syn (the dI jump of a 1 pA weight); exp: 1 */
  float p30;            /* I_e -> V (alpha's P30, exp's P20) */
  float expm1_m;        /* alpha: expm1(-h / tau_m) */
  float p22_m;          /* exp: exp(-h / tau_m) */
  float v_th, v_reset;  /* relative to E_L */
  float i_e;
} LsProp;

/* One replica's constants in the form the step uses them. */
typedef struct LsConst {
  LsProp prop[2];        /* Pyr, PV */
  LsPoisson bg[2];       /* background, per type */
  LsPoisson lgn[2];      /* LGN trains of PA, NPA */
  float w_bg, w_lgn[2];  /* pA; LGN per target type */
  float p_plus, p_minus; /* trace decays per step, exp(-h / tau) */
  float lambda, alpha, mu_plus, mu_minus, wmax;
  float dt_ms;
  int psc, ref_steps;
  uint64_t seed;
} LsConst;

/* The network's sizes (equal for every replica of an experiment). */
typedef struct LsDims {
  int N;                 /* neurons */
  int pop0[LS_POPS + 1]; /* population p holds neurons pop0[p] .. pop0[p+1]-1 */
  int D;                 /* delay in steps */
  int steps;             /* steps per record */
  int raster_first;      /* the raster window's first step, */
  int raster_steps;      /* and its end: spikes of steps in it are kept */
} LsDims;

/* Offsets of a record's series (floats into a replica's record). */
typedef struct LsSeries {
  int conn;   /* 6: PA, NPA, PA->Pyr, PA->PV, NPA->Pyr, NPA->PV */
  int rates;  /* 12: Hz per population */
  int spikes; /* total spikes in the record */
  int diverged; /* 1 from the record at whose end the state held a non-finite value */
  int width;
} LsSeries;

/* Steps since a neuron's last spike saturate here (exact as a float in the state). */
#define LS_AGE_MAX (1 << 24)

/* Fixed-point synaptic input: pending inputs are summed as integers in units of 2^-32 pA,
 * so their sum does not depend on the order spikes arrive in (CUDA atomics). */
#define LS_FIX 4294967296.0f
#define LS_UNFIX 2.3283064365386963e-10f

#ifdef __cplusplus
extern "C" {
#endif
LsDims ls_dims(const LsParams *p);
void ls_const_init(LsConst *k, const LsParams *p);
ap_status ls_layout_init(const LsParams *p, ApLayout *out, LsSeries *ser);
#ifdef __cplusplus
}
#endif

#endif
