/* The warp version of the step (kernels/mc/mc_warp.h: one replica per warp, weights in
 * registers) read the CPU way, a warp's 32 lanes as arrays, against the CPU backend: the
 * same numbers bit for bit, with the lanes run in ascending and in descending order (a
 * block that read another lane's value while it is being written would differ). */
#include "kernels/mc/mc_warp.h"

/* the warp readings' short macro names end with mc_warp.h (this fails to compile if not) */
#if defined(LV) || defined(LARR) || defined(L) || defined(LX) || defined(LANES) ||                 \
    defined(LANES_END) || defined(FROM) || defined(FROMX) || defined(ANY) || defined(UNROLL) ||    \
    defined(WARP_SYNC)
#error "mc_warp.h leaves its short macro names defined"
#endif

#include "cuda_parity.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

/* chunk: samples a launch takes (0: records [0, 2), then the rest). */
static void emulate_and_compare_in(const char *ini, int reversed, long long chunk) {
  ApExperiment ex;
  th_experiment(&ex, ini);
  McDims dims = mc_dims(th_mc(&ex, 0));
  cr_assert(dims.n_layers == 2 && dims.n[0] == MW0 && dims.n[1] == MW1 && dims.n[2] == MW2);
  Session cpu, emu;
  th_run(&cpu, &ex, 2);
  ApError err = {{0}};
  ApExec exec = {.threads = 1};
  cr_assert_eq(session_open(&emu, &ex, ap_backend_cpu(), &exec, &err), AP_OK, "%s", err.msg);
  McLayout lay;
  cr_assert_eq(mc_layout_init(&lay, &dims, NULL), AP_OK);
  float sh[MW_SHARED_FLOATS]; /* the GPU's shared memory */
  int F = emu.lay->series_width;
  mw_lanes_reversed = reversed;
  for (int r = 0; r < emu.R; r++) {
    McConst k;
    mc_const_init(&k, th_mc(&ex, r));
    McSched sch = mc_sched(th_mc(&ex, r), &emu.data);
    sch.n_records = ex.epochs;
    McView st = {emu.state + (size_t)r * (size_t)lay.n_floats, 1};
    /* calls as launches of a run would be */
    float *row = session_record(&emu, r, 0);
    const long long U = mc_units(&sch, emu.data.n_train), end = (long long)ex.epochs * U;
    for (ApPos a = {0, 0}; ap_pos_index(a, U) < end;) {
      long long at = chunk ? ap_pos_index(a, U) + chunk : a.record ? end : 2 * U;
      ApPos to = ap_pos_at(at < end ? at : end, U);
      mw_records(st, &lay, &k, &sch, &emu.data, a, to, row + (size_t)a.record * (size_t)F, a.record,
                 F, sh);
      a = to;
    }
  }
  mw_lanes_reversed = 0;
  char msg[1024] = "";
  ap_status st = parity_compare(&emu, &cpu, "warp", "CPU backend", msg, sizeof msg);
  cr_assert_eq(st, AP_OK, "lanes %s: %s", reversed ? "descending" : "ascending", msg);
  session_close(&emu);
  session_close(&cpu);
  config_free(&ex);
}

static void emulate_and_compare(const char *ini, int reversed) {
  emulate_and_compare_in(ini, reversed, 0);
}

static const char *bars =
    "[train]\nepochs = 5\n[model]\neta_pi = 0.03\n"
    "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7, 20\nout_lag = 0, 3\n";
static const char *resets =
    "[train]\nepochs = 4\nteacher = false\nval_samples = 5\nreset_between_samples = true\n"
    "[model]\ninit_selfpred = false\neta_pi = 0.05\neta_ip = 0.1\n"
    "[sweep]\nseed = 4..6\nvariant = original, le\nt_pres = 13\n";

Test(warp, bars_both_variants_equal_the_cpu_backend) { emulate_and_compare(bars, 0); }
Test(warp, bars_with_the_lanes_in_descending_order_too) { emulate_and_compare(bars, 1); }
Test(warp, resets_no_teacher_and_partial_validation_equal_the_cpu_backend) {
  emulate_and_compare(resets, 0);
}
Test(warp, resets_with_the_lanes_in_descending_order_too) { emulate_and_compare(resets, 1); }
Test(warp, diverging_replicas_freeze_as_on_the_cpu_backend) {
  emulate_and_compare(
      "[train]\nepochs = 4\n[model]\nt_pres = 20\n[sweep]\neta_pi = 0, 1e6\nseed = 1..3\n", 0);
}
Test(warp, stopped_inside_records_every_few_samples_test_phases_too) {
  emulate_and_compare_in("[train]\nepochs = 5\ntest_every = 2\n[model]\neta_pi = 0.03\n"
                         "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7\n",
                         0, 5);
  emulate_and_compare_in(resets, 1, 3);
  emulate_and_compare_in(
      "[train]\nepochs = 4\ntest_every = 1\n[model]\nt_pres = 20\n[sweep]\neta_pi = 0, 1e6\n"
      "seed = 1..3\n",
      0, 7);
}
