/* The CUDA backend's warp kernel body (kernels/mc_warp.h: one replica per warp, weights
 * in registers) read the CPU way, a warp's 32 lanes as arrays, against the CPU backend:
 * the same numbers bit for bit. */
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
  size_t nf = (size_t)emu.lay.n_floats;
  for (size_t i = 0; i < (size_t)emu.R * nf; i++)
    cr_assert(!memcmp(&emu.state[i], &cpu.state[i], sizeof(float)),
              "state element %zu of replica %zu: warp %.9g, CPU backend %.9g", i % nf, i / nf,
              emu.state[i], cpu.state[i]);
  size_t re = (size_t)emu.R * (size_t)emu.E;
  const float *a[] = {emu.m.val_acc, emu.m.val_mse, emu.m.train_acc, emu.m.ff_err, emu.m.fb_err,
                      emu.m.api_err, emu.m.inn_err};
  const float *b[] = {cpu.m.val_acc, cpu.m.val_mse, cpu.m.train_acc, cpu.m.ff_err, cpu.m.fb_err,
                      cpu.m.api_err, cpu.m.inn_err};
  for (int k = 0; k < 7; k++)
    for (size_t i = 0; i < re; i++)
      cr_assert(!memcmp(&a[k][i], &b[k][i], sizeof(float)), "metric %d cell %zu: warp %.9g, CPU %.9g",
                k, i, a[k][i], b[k][i]);
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
