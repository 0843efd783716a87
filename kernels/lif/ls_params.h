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
#include "../model_keys.h"

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

#define LS_LOCAL_INDEX(nm, ...) LS_LOCAL_##nm,
enum { LS_LOCAL(LS_LOCAL_INDEX) LS_NLOCAL };
#undef LS_LOCAL_INDEX

/* The keys (kernels/model_keys.h): X(kind, section, member, ...); the defaults are
 * MODELS.md §3: Tables 1-2, NEST's defaults for the rest, alpha PSCs, top-down on.
 * LS_LOCALS: a probability and a weight per projection of LS_LOCAL (ls_model.c). */
// clang-format off
#define LS_KEYS(X)                                                                                 \
  X(U64, model, seed, 0, AP_BIG, 1,                                                                \
    "seed of the connectivity, the LGN targets and every Poisson train")                           \
  X(CHOICE, model, psc, "alpha|exp", LS_PSC_ALPHA,                                                 \
    "postsynaptic currents: alpha (iaf_psc_alpha, peak = weight) | exp (iaf_psc_exp, "             \
    "jump = weight; docs/models/lif_stdp.md: the network is then nearly silent)")                  \
  X(CHOICE, model, topdown, "off|on", 1,                                                           \
    "the nonspecific top-down projections HA L2/3 Pyr -> L2/3 of PA and NPA")                      \
  X(INT, fixed, n_pyr, 1, LS_POP_MAX, 320, "Pyr cells per layer and assembly (Table 2)")           \
  X(INT, fixed, n_pv, 1, LS_POP_MAX, 80, "PV cells per layer and assembly (Table 2)")              \
  X(REAL, fixed, dt, AP_POS, 0.1, "time step (ms)")                                                \
  X(REAL, fixed, delay, AP_POS, 1.0, "every synaptic delay (ms), a multiple of dt")                \
  X(REAL, model, tau_m, AP_POS, 10.0, "membrane time constant (ms)")                               \
  X(REAL, model, c_m, AP_POS, 250.0, "membrane capacitance (pF; NEST's default)")                  \
  X(REAL, model, e_l, AP_ANY, -70.0, "resting potential (mV; NEST's default)")                     \
  X(REAL, model, v_th, AP_ANY, -50.0, "spike threshold (mV)")                                      \
  X(REAL, model, v_reset, AP_ANY, -65.0, "reset potential (mV)")                                   \
  X(REAL, model, t_ref, AP_NONNEG, 2.0, "refractory period (ms), rounded to steps as NEST does")   \
  X(REAL, model, i_e, AP_ANY, 0.0, "constant input current (pA)")                                  \
  X(REAL, model, tau_syn_ex, AP_POS, 2.0, "excitatory synaptic time constant (ms), every neuron")   \
  X(REAL, model, tau_syn_in_pyr, AP_POS, 6.0,                                                      \
    "inhibitory synaptic time constant on Pyr (PV -> Pyr, ms)")                                    \
  X(REAL, model, tau_syn_in_pv, AP_POS, 4.3,                                                       \
    "inhibitory synaptic time constant on PV (PV -> PV, ms)")                                      \
  X(LS_LOCALS, model, p_local, w_local)                                                            \
  X(REAL, model, p_bu_pyr, AP_UNIT, 0.3, "bottom-up PA/NPA L2/3 Pyr -> HA L4 Pyr: probability")    \
  X(REAL, model, w_bu_pyr, AP_NONNEG, 40.0, "bottom-up -> HA L4 Pyr: initial weight (pA, plastic)")\
  X(REAL, model, p_bu_pv, AP_UNIT, 0.3, "bottom-up PA/NPA L2/3 Pyr -> HA L4 PV: probability")      \
  X(REAL, model, w_bu_pv, AP_NONNEG, 20.0, "bottom-up -> HA L4 PV: initial weight (pA, plastic)")  \
  X(REAL, model, p_td_pyr, AP_UNIT, 0.3, "top-down HA L2/3 Pyr -> PA/NPA L2/3 Pyr: probability")   \
  X(REAL, model, w_td_pyr, AP_ANY, 15.0, "top-down -> L2/3 Pyr: weight (pA)")                      \
  X(REAL, model, p_td_pv, AP_UNIT, 0.3, "top-down HA L2/3 Pyr -> PA/NPA L2/3 PV: probability")     \
  X(REAL, model, w_td_pv, AP_ANY, 20.0, "top-down -> L2/3 PV: weight (pA)")                        \
  X(REAL, model, p_lgn_pyr, AP_UNIT, 0.3, "an L4 Pyr cell of PA/NPA gets an LGN train: probability")\
  X(REAL, model, w_lgn_pyr, AP_ANY, 60.0, "LGN -> Pyr weight (pA)")                                \
  X(REAL, model, p_lgn_pv, AP_UNIT, 0.3, "an L4 PV cell of PA/NPA gets an LGN train: probability") \
  X(REAL, model, w_lgn_pv, AP_ANY, 30.0, "LGN -> PV weight (pA)")                                  \
  X(REAL, model, rate_lgn_pa, AP_NONNEG, 500.0, "LGN rate to PA (Hz; each targeted cell its own train)")\
  X(REAL, model, rate_lgn_npa, AP_NONNEG, 100.0, "LGN rate to NPA (Hz)")                           \
  X(REAL, model, rate_bg_pyr, AP_NONNEG, 1050.0, "background rate per Pyr cell (Hz; its own train)")\
  X(REAL, model, rate_bg_pv, AP_NONNEG, 1000.0, "background rate per PV cell (Hz)")                \
  X(REAL, model, w_bg, AP_ANY, 100.0, "background weight (pA)")                                    \
  X(REAL, model, tau_plus, AP_POS, 20.0, "STDP tau+ (ms, stdp_synapse)")                           \
  X(REAL, model, tau_minus, AP_POS, 20.0, "STDP tau- (ms, the postsynaptic neuron's)")             \
  X(REAL, model, lambda, AP_NONNEG, 0.01, "STDP learning rate lambda")                             \
  X(REAL, model, alpha, AP_NONNEG, 1.0, "STDP depression / facilitation ratio alpha")              \
  X(REAL, model, mu_plus, AP_NONNEG, 1.0, "STDP weight dependence exponent of facilitation")       \
  X(REAL, model, mu_minus, AP_NONNEG, 1.0, "STDP weight dependence exponent of depression")        \
  X(REAL, model, wmax, AP_POS, 100.0, "STDP maximal weight Wmax (pA)")                             \
  X(REAL, train, record_ms, AP_POS, 5.0,                                                           \
    "simulated time per record (ms), a multiple of dt; the run: epochs x record_ms")               \
  X(REAL, train, raster_ms, AP_NONNEG, 3000.0,                                                     \
    "spikes before raster_ms (and from raster_from_ms on) are kept as (neuron, step) pairs "       \
    "(0: none)")                                                                                   \
  X(REAL, train, raster_from_ms, AP_NONNEG, 0.0, "the raster window's start (ms; default 0)")
// clang-format on

#define AP_KEY_MEMBER_LS_LOCALS(sec, p, w) double p[LS_NLOCAL], w[LS_NLOCAL];

/* Every key of a replica (LS_KEYS). */
typedef struct LsParams {
  LS_KEYS(AP_KEY_MEMBER)
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
  int conn;     /* 6: PA, NPA, PA->Pyr, PA->PV, NPA->Pyr, NPA->PV */
  int rates;    /* 12: Hz per population */
  int spikes;   /* total spikes in the record */
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
