/* The CUDA backend's warp kernel body (kernels/mc_warp.h: one replica per warp, weights
 * in registers) read the CPU way, a warp's 32 lanes as arrays, against the CPU backend:
 * the same numbers bit for bit. */
#include "cuda_parity.h"
#include "helpers.h"
#include "kernels/mc_warp.h"

#include <stdlib.h>
#include <string.h>

static void emulate_and_compare(const char *ini) {
  ApExperiment ex;
  th_experiment(&ex, ini);
  cr_assert(ex.dims.n_layers == 2 && ex.dims.n[0] == MW0 && ex.dims.n[1] == MW1 && ex.dims.n[2] == MW2);
  Session cpu, emu;
  th_run(&cpu, &ex, 2);
  ApError err = {{0}};
  cr_assert_eq(session_open(&emu, &ex, ap_backend_cpu(), &err), AP_OK, "%s", err.msg);
  McSchedule sch = {0, ex.teacher, ex.learning, emu.n_val, ex.reset_between_samples};
  float rows[2 * MW2 * MW1]; /* the GPU's shared memory */
  for (int r = 0; r < emu.R; r++) {
    McConst k;
    sch.t_pres = ex.replicas[r].t_pres;
    mc_const_init(&k, &ex.replicas[r], sch.t_pres, 1);
    McView st = {emu.state + (size_t)r * (size_t)emu.lay.n_floats, 1};
    /* two calls, as chunks of a run would be */
    mw_epochs(st, &emu.lay, &k, &sch, &emu.data, 0, 2, &emu.m, r, 0, rows);
    mw_epochs(st, &emu.lay, &k, &sch, &emu.data, 2, ex.epochs, &emu.m, r, 0, rows);
  }
  char msg[1024] = "";
  ap_status st = parity_compare(&emu, &cpu, "warp", "CPU backend", msg, sizeof msg);
  cr_assert_eq(st, AP_OK, "%s", msg);
  session_close(&emu);
  session_close(&cpu);
  config_free(&ex);
}

Test(warp, bars_both_variants_equal_the_cpu_backend) {
  emulate_and_compare("[train]\nepochs = 5\n[model]\neta_pi = 0.03\n"
                      "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7, 20\nout_lag = 0, 3\n");
}

Test(warp, resets_no_teacher_and_partial_validation_equal_the_cpu_backend) {
  emulate_and_compare("[train]\nepochs = 4\nteacher = false\nval_samples = 5\nreset_between_samples = true\n"
                      "[model]\ninit_selfpred = false\neta_pi = 0.05\neta_ip = 0.1\n"
                      "[sweep]\nseed = 4..6\nvariant = original, le\nt_pres = 13\n");
}
