/* The replica-by-replica form of the model (kernels/mc_replica.h), which the CUDA
 * backend's generic kernel runs one thread per replica, against the CPU backend: same
 * numbers, bit for bit. This is how the CUDA kernel's logic is tested without a GPU. */
#include "cuda_parity.h"
#include "helpers.h"
#include "kernels/mc_replica.h"

#include <stdlib.h>
#include <string.h>

static void emulate_and_compare(const char *ini) {
  ApExperiment ex;
  th_experiment(&ex, ini);
  Session cpu;
  th_run(&cpu, &ex, 2);

  /* the same replicas, replica after replica, from the same initial state */
  Session emu;
  ApError err = {{0}};
  cr_assert_eq(session_open(&emu, &ex, ap_backend_cpu(), &err), AP_OK, "%s", err.msg);
  McWork w;
  mc_work_init(&w, &emu.lay);
  int n_samples = emu.data.n_train > emu.data.n_valset ? emu.data.n_train : emu.data.n_valset;
  float *work = calloc((size_t)w.n_floats, sizeof *work);
  uint32_t *perm = calloc((size_t)n_samples, sizeof *perm);
  McSchedule sch = {0, ex.teacher, ex.learning, emu.n_val, ex.reset_between_samples};
  for (int r = 0; r < emu.R; r++) {
    McConst k;
    const McParams *p = &ex.replicas[r];
    sch.t_pres = p->t_pres;
    mc_const_init(&k, p, p->t_pres, emu.lay.dims.n_layers - 1);
    McView st = {emu.state + (size_t)r * (size_t)emu.lay.n_floats, 1}, wk = {work, 1};
    memset(work, 0, (size_t)w.n_floats * sizeof *work);
    mc_r_refresh_rates(st, wk, &emu.lay, &w, &k);
    mc_r_epochs(st, wk, perm, 1, &emu.lay, &w, &k, &sch, &emu.data, 0, ex.epochs, &emu.m, r, 0);
  }
  char msg[1024] = "";
  ap_status st = parity_compare(&emu, &cpu, "replica-wise", "CPU backend", msg, sizeof msg);
  cr_assert_eq(st, AP_OK, "%s", msg);
  free(work);
  free(perm);
  session_close(&emu);
  session_close(&cpu);
  config_free(&ex);
}

Test(replica, bars_both_variants_equal_the_cpu_backend) {
  emulate_and_compare("[train]\nepochs = 6\n[model]\neta_pi = 0.03\n"
                      "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7, 20\nout_lag = 0, 3\n");
}

Test(replica, deep_network_reset_and_no_teacher_equal_the_cpu_backend) {
  emulate_and_compare("[experiment]\ndataset = random\n[data]\nrandom_samples = 11\n"
                      "[train]\nepochs = 3\nteacher = false\nval_samples = 5\nreset_between_samples = true\n"
                      "[model]\ndims = 6, 7, 5, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
                      "eta_pi = 0.02, 0.01\nt_pres = 9\ninit_selfpred = false\n"
                      "[sweep]\nseed = 4..6\nvariant = original, le\n");
}
