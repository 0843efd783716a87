#include "cuda_parity.h"

#include "host/config.h"
#include "host/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bars cases run the warp kernel under auto, the deep network the generic one. */
const ParityCase parity_cases[] = {
    {"1 replica", "[train]\nepochs = 4\n[model]\neta_pi = 0.02\nt_pres = 9\n", 1, 0, NULL},
    {"7 replicas",
     "[train]\nepochs = 4\n[model]\neta_pi = 0.02\n"
     "[sweep]\nseed = 1..4\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
     7, 0, NULL},
    {"300 replicas",
     "[train]\nepochs = 3\n[model]\neta_pi = 0.02\n"
     "[sweep]\nseed = 1..150\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
     0, 0, NULL},
    {"300 replicas, generic kernel",
     "[train]\nepochs = 3\n[model]\neta_pi = 0.02\n"
     "[sweep]\nseed = 1..150\nvariant = le, original\nt_pres = 9, 25\nzip = variant t_pres\n",
     0, 0, "generic"},
    {"deep network, resets, no teacher",
     "[experiment]\ndataset = random\n[data]\nrandom_samples = 13\n"
     "[train]\nepochs = 3\nval_samples = 4\nreset_between_samples = true\nteacher = false\n"
     "[model]\ndims = 5, 8, 6, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
     "eta_pi = 0.02, 0.01\nt_pres = 11\ninit_selfpred = false\n"
     "[sweep]\nseed = 1..40\nvariant = original, le\n",
     0, 0, NULL},
    {"3 epochs on the GPU, 3 more on the CPU",
     "[train]\nepochs = 6\n[model]\nt_pres = 15\n[sweep]\nseed = 1..33\nvariant = le, original\n",
     0, 3, NULL},
    {"300 epochs (more than one launch), resets, partial validation",
     "[train]\nepochs = 300\nval_samples = 3\nreset_between_samples = true\n[model]\nt_pres = 3\n"
     "[sweep]\nseed = 1..3\nvariant = le, original\n",
     0, 0, NULL},
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

ap_status parity_compare(const Session *a, const Session *b, const char *name_a, const char *name_b,
                         char *msg, size_t n) {
  size_t nf = (size_t)a->lay.n_floats;
  for (size_t i = 0; i < (size_t)a->R * nf; i++)
    if (memcmp(&a->state[i], &b->state[i], sizeof(float))) {
      const McField *f = NULL;
      for (int k = 0; k < a->lay.n_fields; k++)
        if ((size_t)a->lay.fields[k].offset <= i % nf) f = &a->lay.fields[k];
      snprintf(msg, n, "replica %zu, %s[%zu]: %s %.9g, %s %.9g", i / nf, f ? f->name : "?",
               i % nf - (f ? (size_t)f->offset : 0), name_a, a->state[i], name_b, b->state[i]);
      return AP_ERR_SOFTWARE;
    }
  int H = a->lay.dims.n_layers - 1;
  size_t re = (size_t)a->R * (size_t)a->E, reh = re * (size_t)(H > 0 ? H : 1);
  const char *names[] = {"val_acc", "val_mse", "train_acc", "ff_err", "fb_err", "api_err", "inn_err"};
  const float *ma[] = {a->m.val_acc, a->m.val_mse, a->m.train_acc, a->m.ff_err, a->m.fb_err,
                       a->m.api_err, a->m.inn_err};
  const float *mb[] = {b->m.val_acc, b->m.val_mse, b->m.train_acc, b->m.ff_err, b->m.fb_err,
                       b->m.api_err, b->m.inn_err};
  for (int k = 0; k < (H > 0 ? 7 : 3); k++) {
    size_t len = k < 3 ? re : reh;
    for (size_t i = 0; i < len; i++)
      if (memcmp(&ma[k][i], &mb[k][i], sizeof(float))) {
        snprintf(msg, n, "metric %s, cell %zu: %s %.9g, %s %.9g", names[k], i, name_a, ma[k][i],
                 name_b, mb[k][i]);
        return AP_ERR_SOFTWARE;
      }
  }
  return AP_OK;
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
  if ((st = session_open(&cpu, &ex, ap_backend_cpu(), &err)) ||
      (st = session_run(&cpu, 0, ex.epochs, &err)) || (st = session_pull(&cpu, &err)))
    goto out;
  if (pc->kernel) setenv("APICAL_CUDA_KERNEL", pc->kernel, 1);
  st = session_open(&gpu, &ex, cuda, &err);
  if (pc->kernel) unsetenv("APICAL_CUDA_KERNEL");
  if (st || (st = session_run(&gpu, 0, split, &err)) || (st = session_pull(&gpu, &err))) goto out;
  Session *last = &gpu;
  if (split < ex.epochs) { /* the GPU's state goes on on the CPU */
    if ((st = session_open(&tail, &ex, ap_backend_cpu(), &err))) goto out;
    memcpy(tail.state, gpu.state, (size_t)tail.R * (size_t)tail.lay.n_floats * sizeof(float));
    size_t H = (size_t)(tail.lay.dims.n_layers > 1 ? tail.lay.dims.n_layers - 1 : 1);
    memcpy(tail.metrics_pool, gpu.metrics_pool,
           (size_t)tail.R * (size_t)tail.E * (3 + 4 * H) * sizeof(float));
    if ((st = session_push(&tail, &err)) || (st = session_run(&tail, split, ex.epochs, &err)) ||
        (st = session_pull(&tail, &err)))
      goto out;
    last = &tail;
  }
  st = parity_compare(&cpu, last, "cpu", "cuda", msg, n);
  if (st) err.msg[0] = '\0';
out:
  if (st && err.msg[0]) snprintf(msg, n, "%s", err.msg);
  if (cpu.ex) session_close(&cpu);
  if (gpu.ex) session_close(&gpu);
  if (tail.ex) session_close(&tail);
  if (have_ex) config_free(&ex);
  return st;
}
