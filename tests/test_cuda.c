/* The CUDA backend against the CPU backend (skipped where no CUDA device answers).
 *
 * The generic kernel runs the CPU backend's arithmetic (kernels/mc_replica.h, checked on
 * the CPU by test_replica.c) with every rounding fixed by the source: fmaf written out,
 * no compiler contraction on either side (-ffp-contract=off, --fmad=false), IEEE division
 * and square root. So the comparison is exact, states and metrics alike. A mismatch in
 * the last bit means some operation differs; find it rather than loosen this test. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

static const ApBackend *cuda_or_skip(void) {
  const ApBackend *cuda = ap_backend_cuda();
  if (!cuda) cr_skip_test("built without the CUDA backend");
  ApError why = {{0}};
  if (cuda->probe(&why) != AP_OK) cr_skip_test("no CUDA device: %s", why.msg);
  return cuda;
}

static void run_on(Session *s, const ApExperiment *ex, const ApBackend *be, int e0, int e1) {
  ApError err = {{0}};
  if (e0 == 0) cr_assert_eq(session_open(s, ex, be, &err), AP_OK, "%s: %s", be->name, err.msg);
  cr_assert_eq(session_run(s, e0, e1, &err), AP_OK, "%s: %s", be->name, err.msg);
  cr_assert_eq(session_pull(s, &err), AP_OK, "%s: %s", be->name, err.msg);
}

static void assert_same(const Session *a, const Session *b, int epochs) {
  size_t n = (size_t)a->R * (size_t)a->lay.n_floats;
  for (size_t i = 0; i < n; i++)
    cr_assert(!memcmp(&a->state[i], &b->state[i], sizeof(float)),
              "state element %zu of replica %zu: cpu %.9g, cuda %.9g", i % (size_t)a->lay.n_floats,
              i / (size_t)a->lay.n_floats, a->state[i], b->state[i]);
  int H = a->lay.dims.n_layers - 1;
  for (int r = 0; r < a->R; r++)
    for (int e = 0; e < epochs; e++) {
      size_t re = (size_t)r * (size_t)a->E + (size_t)e;
      cr_assert(!memcmp(&a->m.val_acc[re], &b->m.val_acc[re], 4), "val_acc r %d e %d", r, e);
      cr_assert(!memcmp(&a->m.val_mse[re], &b->m.val_mse[re], 4), "val_mse r %d e %d", r, e);
      cr_assert(!memcmp(&a->m.train_acc[re], &b->m.train_acc[re], 4), "train_acc r %d e %d", r, e);
      for (int h = 0; h < H; h++) {
        size_t reh = re * (size_t)H + (size_t)h;
        cr_assert(!memcmp(&a->m.api_err[reh], &b->m.api_err[reh], 4), "api_err r %d e %d", r, e);
        cr_assert(!memcmp(&a->m.ff_err[reh], &b->m.ff_err[reh], 4), "ff_err r %d e %d", r, e);
      }
    }
}

static void parity(int replicas) {
  const ApBackend *cuda = cuda_or_skip();
  char ini[512];
  snprintf(ini, sizeof ini,
           "[train]\nepochs = 4\n[model]\neta_pi = 0.02\n"
           "[sweep]\nseed = 1..%d\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
           (replicas + 1) / 2);
  ApExperiment ex;
  th_experiment(&ex, ini);
  if (ex.n_replicas > replicas) ex.n_replicas = replicas; /* 1 and 7 are odd on purpose */
  Session cpu, gpu;
  run_on(&cpu, &ex, ap_backend_cpu(), 0, ex.epochs);
  run_on(&gpu, &ex, cuda, 0, ex.epochs);
  assert_same(&cpu, &gpu, ex.epochs);
  session_close(&cpu);
  session_close(&gpu);
  config_free(&ex);
}

Test(cuda, same_numbers_as_the_cpu_for_1_replica) { parity(1); }
Test(cuda, same_numbers_as_the_cpu_for_7_replicas) { parity(7); }
Test(cuda, same_numbers_as_the_cpu_for_300_replicas) { parity(300); }

Test(cuda, deep_networks_and_resets_match_too) {
  const ApBackend *cuda = cuda_or_skip();
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = random\n[data]\nrandom_samples = 13\n"
                     "[train]\nepochs = 3\nval_samples = 4\nreset_between_samples = true\n"
                     "[model]\ndims = 5, 8, 6, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
                     "eta_pi = 0.02, 0.01\nt_pres = 11\ninit_selfpred = false\n"
                     "[sweep]\nseed = 1..40\nvariant = original, le\n");
  Session cpu, gpu;
  run_on(&cpu, &ex, ap_backend_cpu(), 0, ex.epochs);
  run_on(&gpu, &ex, cuda, 0, ex.epochs);
  assert_same(&cpu, &gpu, ex.epochs);
  session_close(&cpu);
  session_close(&gpu);
  config_free(&ex);
}

Test(cuda, a_gpu_state_continues_on_the_cpu) {
  const ApBackend *cuda = cuda_or_skip();
  ApExperiment ex;
  th_experiment(&ex, "[train]\nepochs = 6\n[sweep]\nseed = 1..33\nvariant = le, original\n"
                     "[model]\nt_pres = 15\n");
  Session cpu, mixed;
  run_on(&cpu, &ex, ap_backend_cpu(), 0, ex.epochs);
  run_on(&mixed, &ex, cuda, 0, 3);
  /* hand the GPU's state to a CPU session and go on there */
  Session tail;
  ApError err = {{0}};
  cr_assert_eq(session_open(&tail, &ex, ap_backend_cpu(), &err), AP_OK);
  memcpy(tail.state, mixed.state, (size_t)tail.R * (size_t)tail.lay.n_floats * sizeof(float));
  memcpy(tail.metrics_pool, mixed.metrics_pool,
         (size_t)tail.R * (size_t)tail.E * sizeof(float) * (3 + 4 * (size_t)(tail.lay.dims.n_layers - 1)));
  cr_assert_eq(session_push(&tail, &err), AP_OK);
  run_on(&tail, &ex, ap_backend_cpu(), 3, ex.epochs);
  assert_same(&cpu, &tail, ex.epochs);
  session_close(&cpu);
  session_close(&mixed);
  session_close(&tail);
  config_free(&ex);
}
