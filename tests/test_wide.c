/* The microcircuit's wide path (kernels/mc/mc_wide.c) against its lane path, and the test
 * phase (mc_body_records) against a hand count.
 *
 * Where no product has MC_WIDE_MIN_PRE (64) inputs both paths sum in the same order, so
 * they must agree bit for bit; above, the wide path sums in 64 partial sums, and the two
 * agree to a stated tolerance. A team of threads on one replica gives the bits of one
 * thread, whatever the network. */
#define MC_LN 1
#include "kernels/mc/mc_body.h"

#include "cuda_parity.h"
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both sessions of ini, a on (version_a, threads_a), b on (version_b, threads_b), hold the
 * same bits. */
static void same_bits(const char *ini, const char *va, int ta, const char *vb, int tb) {
  ApExperiment ex;
  th_experiment(&ex, ini);
  Session a, b;
  th_run_version(&a, &ex, ta, va);
  th_run_version(&b, &ex, tb, vb);
  char msg[1024] = "", na[64], nb[64];
  snprintf(na, sizeof na, "%s, %d threads", va, ta);
  snprintf(nb, sizeof nb, "%s, %d threads", vb, tb);
  cr_assert_eq(parity_compare(&a, &b, na, nb, msg, sizeof msg), AP_OK, "%s", msg);
  session_close(&a);
  session_close(&b);
  config_free(&ex);
}

Test(wide, bars_both_variants_and_test_phases_equal_the_lanes_bit_for_bit) {
  same_bits("[train]\nepochs = 5\ntest_every = 2\n[model]\neta_pi = 0.03\n"
            "[sweep]\nseed = 1..3\nvariant = le, original\nt_pres = 7, 20\n",
            "lanes", 2, "wide", 2);
}

Test(wide, deep_network_resets_no_teacher_and_learn_lag_equal_the_lanes_bit_for_bit) {
  same_bits("[experiment]\ndataset = random\n[data]\nrandom_samples = 11\n"
            "[train]\nepochs = 3\nteacher = false\nval_samples = 5\nreset_between_samples = true\n"
            "learn_lag = 3\n"
            "[model]\ndims = 6, 7, 5, 4\neta_up = 0.1, 0.2, 0.05\neta_ip = 0.1, 0.3\n"
            "eta_pi = 0.02, 0.01\nt_pres = 9\ninit_selfpred = false\n"
            "[sweep]\nseed = 4..6\nvariant = original, le\n",
            "lanes", 1, "wide", 2);
}

Test(wide, poisson_spikes_equal_the_lanes_bit_for_bit) {
  same_bits("[train]\nepochs = 3\n[model]\nneuron = poisson\nt_pres = 15\ntau_s = 0.4\n"
            "tau_dend = 0.3\n[sweep]\nseed = 1, 2\npsi = 20, 2000\nt_ref = 0, 0.3\n",
            "lanes", 2, "wide", 1);
}

/* 200-100-10: 23,000 weights, so two threads split the replica's neurons (a team); the
 * same bits as one thread, for rates and spikes, with partial validation and test phases. */
Test(wide, a_team_on_one_replica_gives_the_bits_of_one_thread) {
  static const char *const ini[] = {
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 6\n"
      "[train]\nepochs = 2\nval_samples = 3\ntest_every = 1\n"
      "[model]\ndims = 200, 100, 10\nt_pres = 6\ninit_scale = 0.2\neta_up = 0.02, 0.01\n"
      "eta_ip = 0.01\neta_pi = 0.001\n",
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 4\n"
      "[train]\nepochs = 2\n"
      "[model]\ndims = 200, 100, 10\nt_pres = 5\ninit_scale = 0.2\nneuron = poisson\n"
      "t_ref = 0.2\ntau_dend = 0.3\neta_up = 0.02, 0.01\neta_ip = 0.01\n",
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 4\n"
      "[train]\nepochs = 1\nreset_between_samples = true\n"
      "[model]\ndims = 100, 70, 66, 10\nt_pres = 5\ninit_scale = 0.2\n"
      "eta_up = 0.02, 0.01, 0.01\neta_ip = 0.01, 0.01\n",
  };
  for (size_t i = 0; i < sizeof ini / sizeof ini[0]; i++) same_bits(ini[i], "wide", 1, "wide", 2);
}

/* The team's guard (ApTeamGuard): run an epoch a call on two threads, the first call goes
 * on the team, the next times its first epoch a thread each, and the bits stay one
 * thread's. */
Test(wide, the_team_guard_switching_between_team_and_thread_keeps_the_bits) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = random\n[data]\nrandom_samples = 4\n"
                     "[train]\nepochs = 3\n"
                     "[model]\ndims = 200, 100, 10\nt_pres = 5\ninit_scale = 0.2\n"
                     "eta_up = 0.02, 0.01\neta_ip = 0.01\n");
  Session one, guarded;
  th_run_version(&one, &ex, 1, "wide");
  ApError err = {{0}};
  ApExec exec = {.threads = 2, .cpu_version = "wide"};
  cr_assert_eq(session_open(&guarded, &ex, ap_backend_cpu(), &exec, &err), AP_OK, "%s", err.msg);
  char how[160];
  guarded.impl->describe(guarded.cohorts[0].c, how, sizeof how);
  cr_assert(strstr(how, "threads on each"), "not split: %s", how);
  for (int e = 0; e < ex.epochs; e++)
    cr_assert_eq(session_run(&guarded, e, e + 1, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_pull(&guarded, &err), AP_OK, "%s", err.msg);
  char msg[1024] = "";
  cr_assert_eq(parity_compare(&one, &guarded, "1 thread", "guarded", msg, sizeof msg), AP_OK, "%s",
               msg);
  session_close(&one);
  session_close(&guarded);
  config_free(&ex);
}

/* A run stopped inside its records every few samples (mc_units), each stop resumed by a
 * new session from the canonical state as a checkpoint and --resume do, gives the bits of
 * the run in one go:
 * on the wide path's team (W_up's steps fused, the guard switching), a thread each, and
 * the lanes; through test phases and poisson spikes. */
Test(wide, a_run_stopped_inside_records_every_few_samples_keeps_the_bits) {
  static const char *const ini[] = {
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 6\n"
      "[train]\nepochs = 3\nval_samples = 3\ntest_every = 2\n"
      "[model]\ndims = 200, 100, 10\nt_pres = 6\ninit_scale = 0.2\neta_up = 0.02, 0.01\n"
      "eta_ip = 0.01\neta_pi = 0.001\n",
      "[experiment]\ndataset = random\n[data]\nrandom_samples = 5\n"
      "[train]\nepochs = 2\ntest_every = 1\n"
      "[model]\ndims = 200, 100, 10\nt_pres = 5\ninit_scale = 0.2\nneuron = poisson\n"
      "t_ref = 0.2\ntau_dend = 0.3\neta_up = 0.02, 0.01\neta_ip = 0.01\n",
  };
  static const struct {
    const char *version;
    int threads;
  } ways[] = {{"wide", 2}, {"wide", 1}, {"lanes", 2}};
  for (size_t i = 0; i < sizeof ini / sizeof ini[0]; i++)
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
      ApExperiment ex;
      th_experiment(&ex, ini[i]);
      Session whole, cut;
      th_run_version(&whole, &ex, ways[w].threads, ways[w].version);
      th_run_cut(&cut, &ex, &(ApExec){.threads = ways[w].threads, .cpu_version = ways[w].version},
                 4);
      cr_assert_gt(cut.units, 7, "records of %lld samples", cut.units);
      char msg[1024] = "", name[64];
      snprintf(name, sizeof name, "%s on %d, cut", ways[w].version, ways[w].threads);
      cr_assert_eq(parity_compare(&whole, &cut, "whole", name, msg, sizeof msg), AP_OK,
                   "case %zu: %s", i, msg);
      session_close(&whole);
      session_close(&cut);
      config_free(&ex);
    }
}

/* Products over 100 inputs: the wide path sums in another order than the lanes. The
 * tolerance: a float32 sum of n terms in another order differs by at most about
 * n eps sum|w r|, 100 x 6e-8 = 6e-6 of the sum's scale; the network's leaky dynamics do
 * not amplify it over 3 epochs of learning, so every state and series value stays within
 * 1e-5 of its scale, 1 + |value| (measured: at most 3.1e-7). */
Test(wide, wide_sums_stay_within_1e_5_of_the_lanes) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = random\n[data]\nrandom_samples = 10\n"
                     "[train]\nepochs = 3\nval_samples = 5\n"
                     "[model]\ndims = 100, 30, 10\nt_pres = 10\ninit_scale = 0.3\n"
                     "eta_up = 0.05, 0.02\neta_ip = 0.02\n[sweep]\nseed = 1..3\n");
  Session a, b;
  th_run_version(&a, &ex, 2, "lanes");
  th_run_version(&b, &ex, 2, "wide");
  size_t nf = (size_t)a.lay->n_floats;
  double worst = 0, differing = 0;
  for (size_t i = 0; i < (size_t)a.R * nf; i++) {
    double x = a.state[i], y = b.state[i], d = fabs(x - y) / (1.0 + fabs(x));
    worst = d > worst ? d : worst;
    differing += x != y;
  }
  cr_log_info("wide against lanes: %.0f of %zu state values differ, at most %.2e (relative)",
              differing, (size_t)a.R * nf, worst);
  cr_assert_gt(differing, 0, "the orders should differ somewhere at 100 inputs");
  cr_assert_lt(worst, 1e-5, "state differs by %.3g", worst);
  size_t F = (size_t)a.lay->series_width;
  for (int r = 0; r < a.R; r++)
    for (int e = 0; e < a.E; e++) {
      const float *x = session_record(&a, r, e), *y = session_record(&b, r, e);
      for (size_t i = 0; i < F; i++) {
        if (isnan(x[i])) {
          cr_assert(isnan(y[i]));
          continue;
        }
        cr_assert_lt(fabs(x[i] - y[i]) / (1.0 + fabs(x[i])), 1e-5, "series %zu, record %d", i, e);
      }
    }
  session_close(&a);
  session_close(&b);
  config_free(&ex);
}

/* The test phase's numbers against a hand count: from the state a run ends with, every
 * held-out sample in file order with teacher and plasticity off, the argmax of the
 * readout counted here; and a run with test phases learns exactly what a run without
 * them does. */
Test(test_phase, accuracy_and_mse_are_a_hand_count_and_change_nothing_else) {
  const char *with = "[train]\nepochs = 4\ntest_every = 2\n[model]\nt_pres = 20\n"
                     "[sweep]\nseed = 1..3\nvariant = le, original\n";
  const char *without = "[train]\nepochs = 4\ntest_every = -1\n[model]\nt_pres = 20\n"
                        "[sweep]\nseed = 1..3\nvariant = le, original\n";
  ApExperiment ex, ex0;
  th_experiment(&ex, with);
  th_experiment(&ex0, without);
  Session s, s0;
  th_run(&s, &ex, 2);
  th_run(&s0, &ex0, 2);
  size_t nf = (size_t)s.lay->n_floats;
  cr_assert_eq(memcmp(s.state, s0.state, (size_t)s.R * nf * sizeof(float)), 0,
               "test phases changed what the replicas learned");
  const ApSeries *ta = ap_layout_series(s.lay, "test_acc"),
                 *tm = ap_layout_series(s.lay, "test_mse");
  for (int r = 0; r < s.R; r++)
    for (int e = 0; e < s.E; e++) {
      const float *x = session_record(&s, r, e), *y = session_record(&s0, r, e);
      for (int i = 0; i < s.lay->series_width; i++) {
        if (i == ta->offset || i == tm->offset) continue;
        cr_assert(!memcmp(&x[i], &y[i], sizeof(float)), "series %d, record %d", i, e);
      }
      int due = e == 1 || e == 3;
      cr_assert_eq(!isnan(x[ta->offset]), due, "record %d: test_acc %g", e, x[ta->offset]);
      cr_assert(isnan(y[ta->offset]) && isnan(y[tm->offset]));
    }

  /* the hand count, from the final state (the last record's test started from it) */
  McDims dims = mc_dims(th_mc(&ex, 0));
  McLayout lay;
  McWork wo;
  cr_assert_eq(mc_layout_init(&lay, &dims, NULL), AP_OK);
  mc_work_init(&wo, &dims);
  const ApData *data = &s.data;
  int n_out = dims.n[dims.n_layers];
  float *st = malloc(nf * sizeof *st), *wk = calloc((size_t)wo.n_rows, sizeof *wk);
  uint32_t perm[8];
  for (int r = 0; r < s.R; r++) {
    const McParams *p = th_mc(&ex, r);
    memcpy(st, s.state + (size_t)r * nf, nf * sizeof *st);
    McConst c;
    McLanes k;
    mc_const_init(&c, p);
    mc_lanes_set(&k, 0, &c);
    mc_lanes_finish(&k);
    McBody b = {.st = st,
                .wk = wk,
                .perm = perm,
                .stride = 1,
                .lay = &lay,
                .wo = &wo,
                .k = &k,
                .sch = mc_sched(p, data),
                .data = data,
                .team = 1};
    mc_body_refresh(&b);
    int hits = 0;
    double sq = 0;
    for (int i = 0; i < data->n_val; i++) {
      uint32_t idx = (uint32_t)i;
      float hit, err;
      McTick tk = {AP_RNG_SPIKES + 32, 3, (uint32_t)i * (uint32_t)p->t_pres};
      mc_body_sample(&b, data->x_val, data->y_val, &idx, 0, 0, 0, tk, &hit, &err);
      const float *acc = wk + wo.acc;
      int best = 0;
      for (int o = 1; o < n_out; o++) best = acc[o] > acc[best] ? o : best;
      hits += best == data->y_val[i];
      for (int o = 0; o < n_out; o++) {
        double t = o == data->y_val[i] ? p->u_high : p->u_low;
        sq += (acc[o] - t) * (acc[o] - t);
      }
    }
    float acc = th_series(&s, "test_acc", r, 3, 0), mse = th_series(&s, "test_mse", r, 3, 0);
    cr_log_info("replica %d: %d of %d held-out samples right, test_acc %g, test_mse %g", r, hits,
                data->n_val, acc, mse);
    cr_assert_eq(acc, (float)hits / (float)data->n_val);
    cr_assert_float_eq(mse, sq / (data->n_val * n_out), 1e-6);
  }
  free(st);
  free(wk);
  session_close(&s);
  session_close(&s0);
  config_free(&ex);
  config_free(&ex0);
}

/* ---- learning on a generated MNIST-format set ----------------------------------------- */

static char idx_dir[256];

/* 8x8 images of 4 classes: each class a fixed random pattern of about 30% lit pixels,
 * each sample its class's pattern with about 10% of the pixels flipped. */
#ifndef LEARN_EPOCHS
#define LEARN_EPOCHS 6
#define LEARN_INIT "0.3"
#define LEARN_ETA_UP "0.1, 0.1"
#define LEARN_ETA_IP "0.1"
#endif
enum { SIDE = 8, N_PIX = SIDE * SIDE, N_CLASSES = 4, N_TRAIN = 200, N_TEST = 100 };

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static void write_set(const char *images, const char *labels, int n, uint32_t seed,
                      unsigned char proto[N_CLASSES][N_PIX]) {
  unsigned char *px = malloc((size_t)n * N_PIX), *lab = malloc((size_t)n);
  for (int s = 0; s < n; s++) {
    lab[s] = (unsigned char)(lcg(&seed) >> 30); /* classes in random order */
    for (int i = 0; i < N_PIX; i++) {
      int on = proto[lab[s]][i];
      if (lcg(&seed) >> 24 < 26) on = !on; /* 26/256: about 10% */
      px[(size_t)s * N_PIX + i] = on ? 255 : 0;
    }
  }
  unsigned img_dims[3] = {(unsigned)n, SIDE, SIDE}, lab_dims[1] = {(unsigned)n};
  char path[512];
  snprintf(path, sizeof path, "%s/%s", idx_dir, images);
  th_write_idx(path, 3, img_dims, px, (size_t)n * N_PIX);
  snprintf(path, sizeof path, "%s/%s", idx_dir, labels);
  th_write_idx(path, 1, lab_dims, lab, (size_t)n);
  free(px);
  free(lab);
}

/* The LE microcircuit learns the generated set (64 inputs: the wide path's partial sums)
 * to at least 90% test accuracy in a few epochs; the same network with plasticity off
 * stays near chance (25%), so the threshold tells a learning network from one that does
 * not. */
Test(learning_idx, le_learns_a_generated_mnist_format_set_and_a_frozen_network_does_not) {
  th_tempdir(idx_dir, sizeof idx_dir);
  unsigned char proto[N_CLASSES][N_PIX];
  uint32_t seed = 12345;
  for (int c = 0; c < N_CLASSES; c++)
    for (int i = 0; i < N_PIX; i++) proto[c][i] = (lcg(&seed) >> 24) < 77; /* 30% */
  write_set("train-images", "train-labels", N_TRAIN, 777, proto);
  write_set("test-images", "test-labels", N_TEST, 999, proto);
  for (int learn = 1; learn >= 0; learn--) {
    char ini[2048];
    snprintf(ini, sizeof ini,
             "[experiment]\ndataset = idx\n[data]\ntrain_images = %s/train-images\n"
             "train_labels = %s/train-labels\ntest_images = %s/test-images\n"
             "test_labels = %s/test-labels\n[train]\nepochs = %d\nval_samples = 0\n"
             "learning = %s\n[model]\ndims = 64, 20, 4\nt_pres = 10\ninit_scale = %s\n"
             "eta_up = %s\neta_ip = %s\n[sweep]\nseed = 1..3\n",
             idx_dir, idx_dir, idx_dir, idx_dir, LEARN_EPOCHS, learn ? "true" : "false", LEARN_INIT,
             LEARN_ETA_UP, LEARN_ETA_IP);
    ApExperiment ex;
    th_experiment(&ex, ini);
    Session s;
    th_run(&s, &ex, 2);
    for (int r = 0; r < s.R; r++) {
      float acc = th_series(&s, "test_acc", r, ex.epochs - 1, 0);
      cr_log_info("seed %d, learning %s: test accuracy %.3f after %d epochs", r + 1,
                  learn ? "on" : "off", acc, ex.epochs);
      if (learn)
        cr_assert_geq(acc, 0.9f, "a learning network reached only %.3f", acc);
      else
        cr_assert_leq(acc, 0.5f, "a frozen network reached %.3f", acc);
    }
    session_close(&s);
    config_free(&ex);
  }
}
