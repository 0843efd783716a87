/* The step body (kernels/mc/mc_body.h) as the CUDA generic kernel runs it: one lane per
 * replica, every array strided by the padded replica count (a runtime value), replicas
 * one after the other. Against the CPU backend, which runs the same body with 16 lanes:
 * the same numbers, bit for bit. This is how the generic kernel's logic is tested without
 * a GPU. The launches take chunk records each, or (chunk < 0) -chunk samples: a run that
 * stops inside records (mc_units) and goes on from the state gives the same bits. */
#define MC_LN 1
#define MC_STRIDE_VARIES
#include "kernels/mc/mc_body.h"

#include "cuda_parity.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

static void emulate_and_compare(const char *ini, int chunk) {
  ApExperiment ex;
  th_experiment(&ex, ini);
  Session cpu;
  th_run(&cpu, &ex, 2);

  /* the same replicas in the GPU layout, x[element][R_pad], from the same initial state */
  Session emu;
  ApError err = {{0}};
  ApExec exec = {.threads = 1};
  cr_assert_eq(session_open(&emu, &ex, ap_backend_cpu(), &exec, &err), AP_OK, "%s", err.msg);
  McDims dims = mc_dims(th_mc(&ex, 0));
  McLayout lay;
  McWork wo;
  cr_assert_eq(mc_layout_init(&lay, &dims, NULL), AP_OK);
  mc_work_init(&wo, &dims);
  size_t R = (size_t)emu.R, pad = (R + 31) / 32 * 32, nf = (size_t)lay.n_floats;
  int n_samples = emu.data.n_train > emu.data.n_val ? emu.data.n_train : emu.data.n_val;
  float *state = calloc(nf * pad, sizeof *state),
        *work = calloc((size_t)wo.n_rows * pad, sizeof *work);
  uint32_t *perm = calloc((size_t)n_samples * pad, sizeof *perm);
  int F = emu.lay->series_width;
  float *series = malloc(R * (size_t)ex.epochs * (size_t)F * sizeof *series);
  for (size_t r = 0; r < R; r++)
    for (size_t e = 0; e < nf; e++) state[e * pad + r] = emu.state[r * nf + e];
  for (size_t r = 0; r < R; r++) {
    McConst c;
    McLanes k;
    mc_const_init(&c, th_mc(&ex, (int)r));
    mc_lanes_set(&k, 0, &c);
    mc_lanes_finish(&k);
    McSched sch = mc_sched(th_mc(&ex, (int)r), &emu.data);
    sch.n_records = ex.epochs;
    McBody b = {.st = state + r,
                .wk = work + r,
                .perm = perm + r,
                .stride = pad,
                .lay = &lay,
                .wo = &wo,
                .k = &k,
                .sch = sch,
                .data = &emu.data,
                .team = 1};
    /* the GPU's launches: from a to b, its series rows relative to a's record; a new
     * McBody each, as a launch starts with nothing but the state */
    const long long U = mc_units(&sch, emu.data.n_train), end = (long long)ex.epochs * U;
    for (ApPos a = {0, 0}; ap_pos_index(a, U) < end;) {
      long long n = chunk > 0 ? chunk * U : -chunk, at = ap_pos_index(a, U) + n;
      ApPos to = ap_pos_at(at < end ? at : end, U);
      float *rows = series + r * (size_t)ex.epochs * (size_t)F;
      McOut o = {.base = rows + (size_t)a.record * (size_t)F,
                 .row_stride = (size_t)ex.epochs * (size_t)F,
                 .col0 = a.record,
                 .width = F,
                 .rows = NULL,
                 .n_real = 1};
      McBody fresh = b;
      mc_body_records(&fresh, a, to, &o);
      a = to;
    }
  }
  for (size_t r = 0; r < R; r++)
    for (size_t e = 0; e < nf; e++) emu.state[r * nf + e] = state[e * pad + r];
  memcpy(emu.series, series, R * (size_t)ex.epochs * (size_t)F * sizeof *series);
  char msg[1024] = "";
  ap_status st = parity_compare(&emu, &cpu, "one lane, strided", "CPU backend", msg, sizeof msg);
  cr_assert_eq(st, AP_OK, "%s", msg);
  free(state), free(work), free(perm), free(series);
  session_close(&emu);
  session_close(&cpu);
  config_free(&ex);
}

Test(replica, bars_both_variants_equal_the_cpu_backend) {
  emulate_and_compare(
      "[train]\nepochs = 6\n[model]\neta_pi = 0.03\n"
      "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7, 20\nout_lag = 0, 3\n",
      6);
}

Test(replica, deep_network_reset_and_no_teacher_in_chunks_equal_the_cpu_backend) {
  emulate_and_compare(
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 11\n"
      "[train]\nepochs = 3\nteacher = false\nval_samples = 5\nreset_between_samples = true\n"
      "[model]\ndims = 6, 7, 5, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
      "eta_pi = 0.02, 0.01\nt_pres = 9\ninit_selfpred = false\n"
      "[sweep]\nseed = 4..6\nvariant = original, le\n",
      2);
}

Test(replica, poisson_spikes_refractory_and_normal_counts_equal_the_cpu_backend) {
  emulate_and_compare("[train]\nepochs = 3\n[model]\nneuron = poisson\nt_pres = 15\n"
                      "tau_s = 0.4\ntau_dend = 0.3\n"
                      "[sweep]\nseed = 1..3\npsi = 20, 2000\nt_ref = 0, 0.3\n"
                      "variant = le, original\n",
                      2);
}

Test(replica, diverging_replicas_freeze_as_on_the_cpu_backend) {
  emulate_and_compare(
      "[train]\nepochs = 4\n[model]\nt_pres = 20\n[sweep]\neta_pi = 0, 1e6\nseed = 1..3\n", 3);
}

Test(replica, stopped_inside_records_every_few_samples_test_phases_too) {
  /* 8 training + 8 validation samples, a test phase of 8 every 2 epochs: 5 samples a
   * launch cut every phase, the test phases too */
  emulate_and_compare("[train]\nepochs = 5\ntest_every = 2\n[model]\neta_pi = 0.03\n"
                      "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7\n",
                      -5);
  emulate_and_compare("[train]\nepochs = 3\ntest_every = 1\n[model]\nneuron = poisson\n"
                      "t_pres = 15\n[sweep]\nseed = 1..3\nt_ref = 0, 0.3\n",
                      -3);
  emulate_and_compare(
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 11\n"
      "[train]\nepochs = 3\ntest_every = 2\nval_samples = 5\nreset_between_samples = true\n"
      "[model]\ndims = 6, 7, 5, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
      "eta_pi = 0.02, 0.01\nt_pres = 9\n[sweep]\nseed = 4..6\n",
      -4);
  emulate_and_compare(
      "[train]\nepochs = 4\ntest_every = 1\n[model]\nt_pres = 20\n[sweep]\neta_pi = 0, 1e6\n"
      "seed = 1..3\n",
      -6);
}
