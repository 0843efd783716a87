#include "cuda_parity.h"

#include "host/config.h"
#include "host/session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Microcircuit: Bars cases run the warp kernel under auto, the deep network the generic
 * one. The ones marked for CI are small enough for the simulator (a few minutes
 * together): both kernels, odd replica counts, more than one launch (state kept on the
 * device between them), a deep network, a GPU state continued on the CPU. */
#define MC "[experiment]\nmodel = microcircuit\n"
#define MS                                                                                         \
  "[experiment]\nmodel = mstdp\ndataset = bars\n[model]\npixels = 9\nlabels = 3\ncycles = 2\n"     \
  "iterations = 4\ntest_cycles = 1\nalpha = 0.05\n"
/* every clamp, rule and free-phase reading, smoothing (rule pre with it: two update
 * terms), both data ranges; more presentations than images (a second permutation) */
#define MS_READINGS                                                                                \
  MS "[train]\nepochs = 2\npresentations = 5\ntest_samples = 4\ntrain_eval = 3\n"                  \
     "[model]\nhidden = 40\norder = shuffled\n"                                                    \
     "[sweep]\nclamp = step, momentum, step_eps, momentum\nrule = post, pre, pre, post\n"          \
     "free = eq1, frozen, eq1, frozen\nsmoothing = off, on, on, off\n"                             \
     "data_range = pm1, 01, pm1, 01\nzip = clamp rule free smoothing data_range\n"
/* the read-outs every few records, and a replica that diverges in its first record */
#define MS_GENERATION                                                                              \
  MS "[train]\nepochs = 3\npresentations = 2\ntest_samples = 2\ntrain_eval = 2\n"                  \
     "full_test_every = 2\ngen_samples = 1\ngen_every = 2\n[model]\nhidden = 20\n"                 \
     "[sweep]\neps = 0.2, 1e20\n"
/* more units than a block has threads (512): a small case for the simulator, and every
 * reading at once for a GPU */
#define MS_WIDE_SMALL                                                                              \
  MS "[train]\nepochs = 2\npresentations = 1\ntest_samples = 1\ntrain_eval = 0\n"                  \
     "[model]\nhidden = 520\nrule = pre\nsmoothing = on\n"
#define MS_WIDE                                                                                    \
  MS "[train]\nepochs = 4\npresentations = 6\ntest_samples = -1\ntrain_eval = 8\n"                 \
     "full_test_every = 3\ngen_samples = 2\ngen_every = 2\n"                                       \
     "[model]\nhidden = 600\norder = shuffled\nrule = pre\nsmoothing = on\n"                       \
     "[sweep]\nclamp = step, momentum, step_eps, momentum, step\n"                                 \
     "free = eq1, frozen, eq1, frozen, eq1\nseed = 1, 2, 3, 4, 5\nzip = clamp free seed\n"
/* LIF-STDP (kernels/lif/ls_cuda.cu): a block per replica runs the CPU's body; 96 neurons
 * (a team of one warp), records of 20 steps. A strong constant input makes the first
 * spikes come in record 2 (synchronous volleys: many spikes per step for the raster's
 * order) and STDP act from record 3; the raster window ends inside record 4. */
#define LS                                                                                         \
  "[experiment]\nmodel = lif_stdp\n[model]\nn_pyr = 12\nn_pv = 4\ni_e = 800\nt_ref = 1\n"          \
  "[train]\nrecord_ms = 2\nraster_ms = 9\n[sweep]\nseed = 1, 2, 3\ntopdown = on, off, on\n"        \
  "psc = alpha, alpha, exp\nzip = seed topdown psc\n"
#define LS_DIVERGE                                                                                 \
  "[experiment]\nmodel = lif_stdp\n[model]\nn_pyr = 12\nn_pv = 4\ni_e = 800\nt_ref = 1\n"          \
  "[train]\nepochs = 3\nrecord_ms = 2\nraster_ms = 4\n[sweep]\ntau_m = 10, 0.0001\n"
const ParityCase parity_cases[] = {
    {"1 replica", MC "[train]\nepochs = 4\n[model]\neta_pi = 0.02\nt_pres = 9\n", 1, 0, NULL, 0, 1},
    {"7 replicas",
     MC "[train]\nepochs = 4\n[model]\neta_pi = 0.02\n"
        "[sweep]\nseed = 1..4\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
     7, 0, NULL, 0, 1},
    {"300 replicas",
     MC "[train]\nepochs = 3\n[model]\neta_pi = 0.02\n"
        "[sweep]\nseed = 1..150\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
     0, 0, NULL, 0, 0},
    {"300 replicas, generic kernel",
     MC "[train]\nepochs = 3\n[model]\neta_pi = 0.02\n"
        "[sweep]\nseed = 1..150\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
     0, 0, "generic", 0, 0},
    {"deep network, resets, no teacher",
     MC "[experiment]\ndataset = random\n[data]\nrandom_samples = 13\n"
        "[train]\nepochs = 3\nval_samples = 4\nreset_between_samples = true\nteacher = false\n"
        "[model]\ndims = 5, 8, 6, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
        "eta_pi = 0.02, 0.01\nt_pres = 11\ninit_selfpred = false\n"
        "[sweep]\nseed = 1..40\nvariant = original, le\n",
     0, 0, NULL, 0, 0},
    {"3 epochs on the GPU, 3 more on the CPU",
     MC
     "[train]\nepochs = 6\n[model]\nt_pres = 15\n[sweep]\nseed = 1..33\nvariant = le, original\n",
     0, 3, NULL, 0, 0},
    {"300 epochs (more than one launch), resets, partial validation",
     MC
     "[train]\nepochs = 300\nval_samples = 3\nreset_between_samples = true\n[model]\nt_pres = 3\n"
     "[sweep]\nseed = 1..3\nvariant = le, original\n",
     0, 0, NULL, 0, 0},
    /* for the simulator: each path once, small */
    {"generic kernel, 3 replicas, LE and original",
     MC "[train]\nepochs = 2\n[model]\neta_pi = 0.02\nt_pres = 5\n[sweep]\nseed = 1..3\nvariant = "
        "le, original\n",
     3, 0, "generic", 1, 1},
    {"deep network (generic), 3 replicas, resets, no teacher, learn_lag 2",
     MC "[experiment]\ndataset = random\n[data]\nrandom_samples = 5\n"
        "[train]\nepochs = 2\nval_samples = 2\nreset_between_samples = true\nteacher = false\n"
        "learn_lag = 2\n"
        "[model]\ndims = 5, 6, 4, 3\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
        "eta_pi = 0.02, 0.01\nt_pres = 4\ninit_selfpred = false\n"
        "[sweep]\nseed = 1..3\n",
     0, 0, NULL, 0, 1},
    {"warp, 1 replica, resets, partial validation, learn_lag 1, 3 launches",
     MC "[train]\nepochs = 3\nval_samples = 1\nreset_between_samples = true\nlearn_lag = 1\n"
        "[model]\nt_pres = 3\n",
     1, 0, "warp", 1, 1},
    {"diverging replicas freeze, warp kernel",
     MC "[train]\nepochs = 3\n[model]\nt_pres = 5\n[sweep]\neta_pi = 0, 1e6\nseed = 1, 2\n", 0, 0,
     "warp", 1, 1},
    {"diverging replicas freeze, generic kernel",
     MC "[train]\nepochs = 3\n[model]\nt_pres = 5\n[sweep]\neta_pi = 0, 1e6\nseed = 1, 2\n", 0, 0,
     "generic", 1, 1},
    {"2 epochs on the GPU, 1 more on the CPU, 3 replicas",
     MC "[train]\nepochs = 3\n[model]\nt_pres = 4\n[sweep]\nseed = 1..3\n", 0, 2, NULL, 0, 1},
    /* Poisson spikes (the generic kernel; the warp kernel runs rate neurons only): the
     * draws' counters, the inversion and the normal quantile (psi 1000), refractory lanes
     * beside counting ones, the spikes in flight across launches and backends */
    {"poisson, 96 replicas, psi 10 to 1000, refractory or not",
     MC "[train]\nepochs = 3\nval_samples = 4\n[model]\nneuron = poisson\nt_pres = 12\n"
        "tau_s = 0.3\ntau_dend = 0.2\n"
        "[sweep]\nseed = 1..8\npsi = 10, 100, 1000\nt_ref = 0, 0.3\nvariant = le, original\n",
     0, 0, NULL, 0, 0},
    {"poisson, 4 replicas, psi 30 and 1000, refractory or not, 2 launches",
     MC "[train]\nepochs = 2\nval_samples = 2\n[model]\nneuron = poisson\nt_pres = 4\n"
        "tau_dend = 0.2\n[sweep]\npsi = 30, 1000\nt_ref = 0, 0.2\n",
     0, 0, NULL, 1, 1},
    {"poisson and rate side by side, 1 epoch on the GPU, 1 more on the CPU",
     MC "[train]\nepochs = 2\nval_samples = 2\n[model]\nt_pres = 4\nvariant = le\n"
        "[sweep]\nseed = 1, 2\nneuron = rate, poisson\n",
     0, 1, NULL, 0, 1},
    /* MSTDP (kernels/mstdp/ms_cuda.cu): a block per replica runs the CPU's body. Bars,
     * 9 pixels, 3 labels; hidden 20, 30 and 40 make generic teams of one warp and of two
     * (with idle threads); 520 and 600 hidden teams whose threads take several rows */
    {"mstdp, 4 replicas: clamp, rule, free, smoothing and range readings, shuffled", MS_READINGS, 0,
     0, "generic", 0, 1},
    {"mstdp, 2 replicas (one diverges), generation, full tests, 3 launches", MS_GENERATION, 0, 0,
     "generic", 1, 1},
    {"mstdp, 2 records on the GPU, 1 more on the CPU, 3 replicas",
     MS "[train]\nepochs = 3\npresentations = 3\ntest_samples = 2\ntrain_eval = 0\n"
        "[model]\nhidden = 30\norder = shuffled\nclamp = momentum\n[sweep]\nseed = 1..3\n",
     0, 2, "generic", 0, 1},
    {"mstdp, 5 replicas of 600 hidden, every reading, 2 launches", MS_WIDE, 0, 0, "generic", 2, 0},
    /* the rows16 kernel (blocks of 16 x 32 threads here): the same cases */
    {"mstdp rows16, 4 replicas: clamp, rule, free, smoothing and range readings, shuffled",
     MS_READINGS, 0, 0, "rows16", 0, 1},
    {"mstdp rows16, 2 replicas (one diverges), generation, full tests, 3 launches", MS_GENERATION,
     0, 0, "rows16", 1, 1},
    {"mstdp rows16, 5 replicas of 600 hidden, every reading, 2 launches", MS_WIDE, 0, 0, "rows16",
     2, 0},
    /* more units than threads, small (a minute under the simulator; CI leaves them out:
     * the CPU runs the same strided team loops, and rows16's groups take several rows in
     * the readings case) */
    {"mstdp, 1 replica of 520 hidden, 2 launches", MS_WIDE_SMALL, 0, 0, "generic", 1, 0},
    {"mstdp rows16, 1 replica of 520 hidden, 2 launches", MS_WIDE_SMALL, 0, 0, "rows16", 1, 0},
    /* LIF-STDP: series, state and the raster (sorted on the host into the CPU's order) */
    {"lif_stdp, 3 replicas (topdown off, psc exp), raster from 3 ms, 2 launches",
     LS "[train]\nepochs = 6\nraster_from_ms = 3\n", 0, 0, NULL, 4, 1},
    {"lif_stdp, 4 records on the GPU (2 launches), 1 more on the CPU, raster continued",
     LS "[train]\nepochs = 5\n", 0, 4, NULL, 3, 1},
    /* the wide kernel (a block per replica, its threads a team): Bars (sums in order, as
     * the CPU's lanes), a network with a product over 64 inputs (the wide path's partial
     * sums, which auto picks on both backends and the generic kernel then uses too),
     * spikes, test phases */
    {"wide kernel, Bars, 2 replicas, LE and original, a test phase every 2 epochs",
     MC "[train]\nepochs = 3\ntest_every = 2\n[model]\neta_pi = 0.02\nt_pres = 5\n"
        "[sweep]\nvariant = le, original\n",
     0, 0, "wide", 1, 1},
    {"wide network (auto: wide), 3 replicas, learn_lag 2, 2 launches",
     MC
     "[experiment]\ndataset = random\n[data]\nrandom_samples = 4\n"
     "[train]\nepochs = 2\nval_samples = 2\nlearn_lag = 2\n[model]\ndims = 70, 9, 5\nt_pres = 4\n"
     "init_scale = 0.2\neta_up = 0.05, 0.02\neta_ip = 0.02\n[sweep]\nseed = 1..3\n",
     0, 0, NULL, 1, 1},
    {"wide network, generic kernel (the wide path's sums), 3 replicas",
     MC "[experiment]\ndataset = random\n[data]\nrandom_samples = 4\n"
        "[train]\nepochs = 2\nval_samples = 2\n[model]\ndims = 70, 9, 5\nt_pres = 4\n"
        "init_scale = 0.2\neta_up = 0.05, 0.02\neta_ip = 0.02\n[sweep]\nseed = 1..3\n",
     0, 0, "generic", 0, 1},
    {"wide kernel, poisson, 2 replicas, refractory or not",
     MC "[train]\nepochs = 2\nval_samples = 2\n[model]\nneuron = poisson\nt_pres = 4\n"
        "tau_dend = 0.2\n[sweep]\nt_ref = 0, 0.2\n",
     0, 0, "wide", 0, 1},
    /* ---- LIF-STDP launch shapes (issue 23): the split kernel (several blocks per
     * network, a launch per phase) and the generic one (a block per network), each pinned:
     * auto picks split for the LIF cases above where the device has the SMs. 96 neurons
     * make 3 blocks of one warp in split (each a range of neurons that starts inside a
     * population); generic's one warp takes three neurons per thread. */
    {"lif_stdp generic kernel, 3 replicas (topdown off, psc exp), raster from 3 ms, 2 launches",
     LS "[train]\nepochs = 6\nraster_from_ms = 3\n", 0, 0, "generic", 4, 1},
    {"lif_stdp split kernel, 1 replica in 3 blocks, 5 records, a launch each",
     LS "[train]\nepochs = 5\n", 1, 0, "split", 1, 1},
    /* a replica whose state turns non-finite freezes as on the CPU (ls_diverge_scan over
     * the split kernel's blocks, ls_diverge_close), the other runs on beside it */
    {"lif_stdp split kernel, 2 replicas (one diverges), 3 records, a launch each", LS_DIVERGE, 0, 0,
     "split", 1, 1},
    {"lif_stdp generic kernel, 2 replicas (one diverges), 3 records", LS_DIVERGE, 0, 0, "generic",
     0, 1},
    /* ---- end of the LIF-STDP launch shapes */
    /* ---- the warp and generic kernels spread a cohort over every SM (mc_cuda.cu,
     * block_threads): as few replicas per block as give each SM one. 47 replicas on the
     * simulator's 46 SMs make blocks of two, the last half-filled (a GPU with more SMs
     * runs them one per block). ---- */
    {"warp kernel, 47 replicas: blocks of 2 warps, the last half-filled, 2 launches",
     MC "[train]\nepochs = 2\nval_samples = 2\n[model]\nt_pres = 3\n[sweep]\nseed = 1..47\n", 0, 0,
     "warp", 1, 1},
    {"generic kernel, 47 replicas: blocks of 2 threads, the last half-filled",
     MC "[train]\nepochs = 1\nval_samples = 0\n[model]\nt_pres = 2\n[sweep]\nseed = 1..47\n", 0, 0,
     "generic", 0, 1},
    /* ---- MSTDP span (issue 23): the training passes as launches over the whole grid,
     * replicas side by side on its second axis (each with its own update terms: rule pre
     * with smoothing has two), records' ends on a block per replica. auto takes span for
     * fewer replicas than SMs on one schedule, rows16 otherwise. ---- */
    {"mstdp span, 4 replicas: clamp, rule, free, smoothing and range readings, shuffled",
     MS_READINGS, 0, 0, "span", 0, 1},
    {"mstdp span (auto), 2 replicas (one diverges), generation, full tests, 3 launches",
     MS_GENERATION, 0, 0, NULL, 1, 1},
    {"mstdp span, 2 records on the GPU (2 launches), 1 more on the CPU, 3 replicas",
     MS "[train]\nepochs = 3\npresentations = 3\ntest_samples = 2\ntrain_eval = 0\n"
        "[model]\nhidden = 30\norder = shuffled\nclamp = momentum\n[sweep]\nseed = 1..3\n",
     0, 2, "span", 1, 1},
    {"mstdp auto, 3 replicas on two schedules (not span: rows16)",
     MS "[train]\nepochs = 2\npresentations = 2\ntest_samples = 1\ntrain_eval = 0\n"
        "[model]\nhidden = 20\n[sweep]\niterations = 3, 4, 3\n",
     0, 0, NULL, 0, 1},
    {"mstdp span, 5 replicas of 600 hidden, every reading, 2 launches", MS_WIDE, 0, 0, "span", 2,
     0},
    /* ---- end of MSTDP span ---- */

    /* ---- the wide kernel, replica-major, several blocks per replica (issue 23) ----------
     * wide:N asks for N blocks per replica, meeting at a grid barrier. The simulator's
     * functional mode runs one block after the other, so there (CI) the kernel takes one
     * block per replica: these cases then check the replica-major layout, the warps'
     * row sums and the team's record end; under its performance mode (perf.sh) and on a
     * GPU, the blocks and the barrier too. */
    {"wide:3, wide network, 2 replicas, a test phase, 2 epochs on the GPU (2 launches), 1 on the "
     "CPU",
     MC "[experiment]\ndataset = random\n[data]\nrandom_samples = 3\n"
        "[train]\nepochs = 3\nval_samples = 1\ntest_every = 2\nlearn_lag = 1\n"
        "[model]\ndims = 70, 9, 5\nt_pres = 3\ninit_scale = 0.2\neta_up = 0.05, 0.02\n"
        "eta_ip = 0.02\n[sweep]\nseed = 1..2\n",
     0, 2, "wide:3", 1, 1},
    {"wide:2, diverging replicas freeze",
     MC "[train]\nepochs = 2\n[model]\nt_pres = 3\n[sweep]\neta_pi = 0, 1e6\nseed = 1, 2\n", 0, 0,
     "wide:2", 1, 1},
    {"wide:2, poisson, 2 replicas, refractory or not",
     MC "[train]\nepochs = 2\nval_samples = 1\n[model]\nneuron = poisson\nt_pres = 3\n"
        "tau_dend = 0.2\n[sweep]\nt_ref = 0, 0.2\n",
     0, 0, "wide:2", 0, 1},
    /* rows of more than 64 MC_WARP_BATCH (512) inputs (two load batches of the warps' sums
     * and of the record end's W_up steps), a hidden layer of more than 128 neurons (two
     * blocks of the tracker warp's self-prediction sums), rows under 64 inputs (one
     * thread's batched sums) */
    {"wide:2, 530-130-3: two load batches per row, tracker sums over 130, a test phase",
     MC "[experiment]\ndataset = random\n[data]\nrandom_samples = 2\n"
        "[train]\nepochs = 2\nval_samples = 1\ntest_every = 2\n"
        "[model]\ndims = 530, 130, 3\nt_pres = 2\ninit_scale = 0.2\neta_up = 0.05, 0.02\n"
        "eta_ip = 0.02\neta_pi = 0.02\n",
     0, 0, "wide:2", 0, 1},
    /* ---- records cut into units (issue 24): the GPU stops inside records, at every
     * few presentations or steps, its state round-tripped through the canonical layout at
     * each stop (lif_stdp's spike counts of the record so far included) ---- */
    {"mstdp generic, 3 records of 5 presentations and the read-outs' images, stopped every 2 "
     "(inside the read-outs, the full test and generation)",
     MS "[train]\nepochs = 3\npresentations = 5\ntest_samples = 2\ntrain_eval = 2\n"
        "full_test_every = 2\ngen_samples = 1\ngen_every = 2\n"
        "[model]\nhidden = 20\norder = shuffled\n[sweep]\nseed = 1, 2\n",
     0, 0, "generic", -2, 1},
    {"mstdp span, 3 records of 5 presentations and the read-outs' images, stopped every 3, 2 on "
     "the GPU, 1 on the CPU",
     MS "[train]\nepochs = 3\npresentations = 5\ntest_samples = 2\ntrain_eval = 2\n"
        "full_test_every = 2\ngen_samples = 1\ngen_every = 2\n"
        "[model]\nhidden = 20\norder = shuffled\n[sweep]\nseed = 1, 2\n",
     0, 2, "span", -3, 1},
    {"lif_stdp generic kernel, 3 replicas, 5 records of 20 steps, stopped every 7",
     LS "[train]\nepochs = 5\n", 0, 0, "generic", -7, 1},
    {"lif_stdp split kernel, 1 replica in 3 blocks, 5 records, stopped every 13, 4 on the GPU",
     LS "[train]\nepochs = 5\n", 1, 4, "split", -13, 1},
    /* the microcircuit's records of training, validation and test samples (mc_units):
     * stops inside each phase, the test phase's kept state (record/kept) and the record's
     * sums (record/sums) in the canonical state */
    {"microcircuit warp, 2 replicas, test phases, stopped every 5 samples",
     MC "[train]\nepochs = 3\ntest_every = 2\n[model]\nt_pres = 3\n[sweep]\nseed = 1, 2\n", 0, 0,
     "warp", -5, 1},
    {"microcircuit generic, 2 replicas, poisson, test phases, stopped every 3, 1 on the GPU",
     MC "[train]\nepochs = 2\ntest_every = 1\nval_samples = 2\n[model]\nneuron = poisson\n"
        "t_pres = 3\ntau_dend = 0.2\n[sweep]\nt_ref = 0, 0.2\n",
     0, 1, "generic", -3, 1},
    {"microcircuit wide:2, wide network, 2 replicas, a test phase, stopped every 2 samples",
     MC "[experiment]\ndataset = random\n[data]\nrandom_samples = 3\n"
        "[train]\nepochs = 1\nval_samples = 1\n"
        "[model]\ndims = 70, 9, 5\nt_pres = 3\ninit_scale = 0.2\neta_up = 0.05, 0.02\n"
        "eta_ip = 0.02\n[sweep]\nseed = 1..2\n",
     0, 0, "wide:2", -2, 1},
};
const int parity_n_cases = sizeof parity_cases / sizeof parity_cases[0];

const ApBackend *parity_cuda(char *why, size_t n) {
  const ApBackend *cuda = ap_backend_cuda();
  if (!cuda) {
    snprintf(why, n, "built without the CUDA backend");
    return NULL;
  }
  ApError err = {{0}};
  if (cuda->probe(&err) != AP_OK) {
    snprintf(why, n, "%s", err.msg);
    return NULL;
  }
  return cuda;
}

static int same(float a, float b) { return isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a); }

ap_status parity_compare(const Session *a, const Session *b, const char *name_a, const char *name_b,
                         char *msg, size_t n) {
  const ApLayout *lay = a->lay;
  size_t nf = (size_t)lay->n_floats;
  for (size_t i = 0; i < (size_t)a->R * nf; i++)
    if (!same(a->state[i], b->state[i])) {
      const ApField *f = NULL;
      for (int k = 0; k < lay->n_fields; k++)
        if ((size_t)lay->field[k].offset <= i % nf) f = &lay->field[k];
      snprintf(msg, n, "replica %zu, %s[%zu]: %s %.9g, %s %.9g", i / nf, f ? f->name : "?",
               i % nf - (f ? (size_t)f->offset : 0), name_a, a->state[i], name_b, b->state[i]);
      return AP_ERR_SOFTWARE;
    }
  size_t F = (size_t)lay->series_width;
  for (int r = 0; r < a->R; r++)
    for (int e = 0; e < a->E; e++) {
      const float *x = session_record(a, r, e), *y = session_record(b, r, e);
      for (size_t i = 0; i < F; i++)
        if (!same(x[i], y[i])) {
          const ApSeries *s = NULL;
          for (int k = 0; k < lay->n_series; k++)
            if ((size_t)lay->series[k].offset <= i) s = &lay->series[k];
          snprintf(msg, n, "series %s, replica %d, record %d: %s %.9g, %s %.9g", s ? s->name : "?",
                   r, e, name_a, x[i], name_b, y[i]);
          return AP_ERR_SOFTWARE;
        }
    }
  return AP_OK;
}

/* AP_OK when two sessions recorded the same events (ApModel.events), pair for pair. */
static ap_status compare_events(Session *a, Session *b, const char *name_a, const char *name_b,
                                char *msg, size_t n) {
  uint32_t *pa = NULL, *pb = NULL;
  uint64_t *sa = NULL, *sb = NULL;
  ApError err = {{0}};
  ap_status st = session_events(a, &pa, &sa, &err);
  if (!st) st = session_events(b, &pb, &sb, &err);
  if (st) snprintf(msg, n, "%s", err.msg);
  for (int r = 0; !st && sa && sb && r < a->R; r++) {
    uint64_t na = sa[r + 1] - sa[r], nb = sb[r + 1] - sb[r];
    for (uint64_t i = 0; !st && i < na && i < nb; i++) {
      const uint32_t *x = pa + 2 * (sa[r] + i), *y = pb + 2 * (sb[r] + i);
      if (x[0] != y[0] || x[1] != y[1]) {
        snprintf(msg, n, "%s, replica %d, pair %llu: %s (%u, %u), %s (%u, %u)", a->model->events, r,
                 (unsigned long long)i, name_a, x[0], x[1], name_b, y[0], y[1]);
        st = AP_ERR_SOFTWARE;
      }
    }
    if (!st && na != nb) {
      snprintf(msg, n, "%s, replica %d: %s %llu pairs, %s %llu", a->model->events, r, name_a,
               (unsigned long long)na, name_b, (unsigned long long)nb);
      st = AP_ERR_SOFTWARE;
    }
  }
  if (!st && (!sa) != (!sb)) {
    snprintf(msg, n, "%s: only %s has them", a->model->events, sa ? name_a : name_b);
    st = AP_ERR_SOFTWARE;
  }
  free(pa);
  free(pb);
  free(sa);
  free(sb);
  return st;
}

/* What carries a run from one session to the next, as a checkpoint and --resume do: the
 * canonical state, the series and the events. */
typedef struct Carry {
  float *state, *series;
  uint32_t *pairs;
  uint64_t *start;
} Carry;

/* Copies from s (pulled). */
static ap_status carry_take(const Session *s, Carry *c, ApError *err) {
  size_t nf = (size_t)s->R * (size_t)s->lay->n_floats,
         ns = (size_t)s->R * (size_t)s->E * (size_t)s->lay->series_width;
  memset(c, 0, sizeof *c);
  c->state = malloc(nf * sizeof(float));
  c->series = malloc((ns ? ns : 1) * sizeof(float));
  if (!c->state || !c->series) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  memcpy(c->state, s->state, nf * sizeof(float));
  memcpy(c->series, s->series, ns * sizeof(float));
  return session_events((Session *)s, &c->pairs, &c->start, err);
}

/* A new session `to` on be that goes on from c (freed). */
static ap_status carry_give(Session *to, Carry *c, const ApExperiment *ex, const ApBackend *be,
                            const ApExec *exec, ApError *err) {
  ap_status st = session_open(to, ex, be, exec, err);
  if (!st) {
    memcpy(to->state, c->state, (size_t)to->R * (size_t)to->lay->n_floats * sizeof(float));
    memcpy(to->series, c->series,
           (size_t)to->R * (size_t)to->E * (size_t)to->lay->series_width * sizeof(float));
    st = session_push(to, err);
  }
  if (!st) st = session_set_events(to, c->pairs, c->start, err);
  free(c->state), free(c->series), free(c->pairs), free(c->start);
  return st;
}

/* s (pulled) replaced by a new session on be that goes on from it: only the canonical
 * state, the series and the events carry the run across (the old one is closed first: a
 * backend's cohorts share one dataset). */
static ap_status reopen(Session *s, const ApExperiment *ex, const ApBackend *be, const ApExec *exec,
                        ApError *err) {
  Carry c;
  ap_status st = carry_take(s, &c, err);
  session_close(s);
  memset(s, 0, sizeof *s);
  return st ? st : carry_give(s, &c, ex, be, exec, err);
}

ap_status parity_run(const ParityCase *pc, const ApBackend *cuda, char *msg, size_t n) {
  Ini ini = {0};
  ApExperiment ex;
  ApError err = {{0}};
  Session cpu = {0}, gpu = {0}, tail = {0};
  int have_ex = 0;
  ap_status st = ini_parse_text(&ini, pc->ini, pc->name, &err);
  if (!st) st = config_build(&ex, &ini, pc->name, &err);
  ini_free(&ini);
  if (st) goto out;
  have_ex = 1;
  if (pc->max_replicas && ex.n_replicas > pc->max_replicas) ex.n_replicas = pc->max_replicas;
  int split = pc->gpu_epochs ? pc->gpu_epochs : ex.epochs;
  ApExec cpu_exec = {.threads = 0}, gpu_exec = {.cuda_version = pc->kernel};
  if ((st = session_open(&cpu, &ex, ap_backend_cpu(), &cpu_exec, &err)) ||
      (st = session_run(&cpu, 0, ex.epochs, &err)) || (st = session_pull(&cpu, &err)))
    goto out;
  if ((st = session_open(&gpu, &ex, cuda, &gpu_exec, &err))) goto out;
  const int units = pc->gpu_chunk < 0 ? -pc->gpu_chunk : 0;
  if (units && gpu.units < 2) {
    snprintf(msg, n, "%s: its records are not cut into units", pc->name);
    st = AP_ERR_SOFTWARE;
    goto out;
  }
  for (ApPos a = {0, 0}; units && a.record < split && !st;) {
    long long U = gpu.units, at = ap_pos_index(a, U) + units;
    if (at > (long long)split * U) at = (long long)split * U;
    ApPos b = ap_pos_at(at, U);
    st = session_advance(&gpu, a, b, &err);
    if (!st) st = session_pull(&gpu, &err);
    if (!st) st = reopen(&gpu, &ex, cuda, &gpu_exec, &err);
    a = b;
  }
  for (int e = 0; !units && e < split && !st;) {
    int e1 = pc->gpu_chunk && e + pc->gpu_chunk < split ? e + pc->gpu_chunk : split;
    st = session_run(&gpu, e, e1, &err);
    e = e1;
  }
  if (st || (st = session_pull(&gpu, &err))) goto out;
  Session *last = &gpu;
  if (split < ex.epochs) { /* the GPU's state goes on on the CPU */
    Carry c;
    if ((st = carry_take(&gpu, &c, &err)) ||
        (st = carry_give(&tail, &c, &ex, ap_backend_cpu(), &cpu_exec, &err)) ||
        (st = session_run(&tail, split, ex.epochs, &err)) || (st = session_pull(&tail, &err)))
      goto out;
    last = &tail;
  }
  st = parity_compare(&cpu, last, "cpu", cuda->name, msg, n);
  if (!st) st = compare_events(&cpu, last, "cpu", cuda->name, msg, n);
  if (st) err.msg[0] = '\0';
out:
  if (st && err.msg[0]) snprintf(msg, n, "%s", err.msg);
  if (cpu.ex) session_close(&cpu);
  if (gpu.ex) session_close(&gpu);
  if (tail.ex) session_close(&tail);
  if (have_ex) config_free(&ex);
  return st;
}
