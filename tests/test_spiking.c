/* The Poisson-spiking microcircuit (MODELS.md §1, thesis 2.6-2.7): the spike draws, the
 * refractory option, the plasticity's per-step form against the event-based closed form
 * of Stapmanns et al. 2021, the approach to the rate model as ψ grows, and learning. */
#define MC_LN 8
#include "kernels/mc/mc_body.h"

#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The per-lane constants of an experiment's first MC_LN replicas. */
static void lanes_of(McLanes *k, const ApExperiment *ex) {
  cr_assert_geq(ex->n_replicas, MC_LN);
  memset(k, 0, sizeof *k);
  for (int l = 0; l < MC_LN; l++) {
    McConst c;
    mc_const_init(&c, th_mc(ex, l));
    mc_lanes_set(k, l, &c);
  }
  mc_lanes_finish(k);
}

/* The uniform neuron id of lane l draws at tick tk (mc_emit's counter layout). */
static float uniform(const McLanes *k, int l, McTick tk, int id) {
  philox4x32_ctr_t w = ap_rng_block(k->seed[l], tk.c0, tk.c1, tk.c2, (uint32_t)id / 4u);
  return ap_u01_open(w.v[id % 4]);
}

/* ---- the draws ------------------------------------------------------------------------ */

/* The lanes side by side (mc_emit, what runs) give the counts of the scalar reference
 * mc_poisson_count and mc_spike_refractory, bit for bit: every branch (inversion, the
 * normal quantile, refractory lanes beside counting ones, a tail of fewer than four
 * neurons, rates that are no number). */
Test(spikes, the_lanes_draw_the_reference_counts) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = bars\n[model]\nneuron = poisson\n"
                     "[sweep]\nseed = 11, 12\npsi = 3, 40, 160, 5000\nt_ref = 0, 0.3\n");
  McLanes k;
  lanes_of(&k, &ex);
  cr_assert(k.any_refractory, "no lane is refractory; the test lost a case");
  enum { N = 37, ID0 = 12 };
  float rate[N * MC_LN], ref[N * MC_LN], want_ref[N * MC_LN];
  int n_normal = 0, n_exact = 0;
  for (int i = 0; i < N * MC_LN; i++) ref[i] = want_ref[i] = 0.0f;
  for (int t = 0; t < 400; t++) {
    McTick tk = {AP_RNG_SPIKES + 16 * (t & 1), (uint32_t)(t / 7), (uint32_t)(t * 131)};
    for (int i = 0; i < N; i++)
      for (int l = 0; l < MC_LN; l++) {
        /* rates from 0 to a few, a λ near the exact/normal boundary, and non-numbers */
        float r = (float)((i * 7 + l * 3 + t) % 23) * 0.17f;
        if (i == 5) r = 16.0f / k.psi_dt[l] * (1.0f + 0.001f * (float)(t % 5 - 2));
        if (i == 6) r = (t % 4 == 0) ? NAN : (t % 4 == 1) ? INFINITY : (t % 4 == 2) ? -1.0f : 0.0f;
        rate[i * MC_LN + l] = r;
      }
    float want[N * MC_LN];
    for (int i = 0; i < N; i++)
      for (int l = 0; l < MC_LN; l++) {
        int q = i * MC_LN + l;
        float lam = mc_spike_mean(rate[q], k.psi_dt[l]), u = uniform(&k, l, tk, ID0 + i), n;
        if (k.refractory[l] != 0.0f)
          n = mc_spike_refractory(lam, u, &want_ref[q], k.n_ref[l]);
        else {
          n = mc_poisson_count(lam, u);
          if (lam > MC_POISSON_EXACT)
            n_normal++;
          else
            n_exact++;
        }
        want[q] = n * k.inv_psi_dt[l];
      }
    mc_emit(rate, ref, (McRows){0, N}, ID0, tk, &k);
    for (int q = 0; q < N * MC_LN; q++) {
      cr_assert(!memcmp(&rate[q], &want[q], sizeof(float)),
                "t %d, neuron %d, lane %d: the lanes drew %.9g, the reference %.9g", t, q / MC_LN,
                q % MC_LN, rate[q], want[q]);
      cr_assert(!memcmp(&ref[q], &want_ref[q], sizeof(float)), "refractory countdown differs");
    }
  }
  cr_assert_gt(n_normal, 1000, "the normal branch ran %d times", n_normal);
  cr_assert_gt(n_exact, 1000, "the inversion ran %d times", n_exact);
  /* an infinite rate sends infinitely many spikes (the divergence travels), a NaN or a
   * negative rate none */
  cr_assert(isinf(mc_poisson_count(INFINITY, 0.01f)) && isinf(mc_poisson_count(INFINITY, 0.99f)));
  cr_assert_eq(mc_poisson_count(mc_spike_mean(NAN, 10.0f), 0.99f), 0.0f);
  cr_assert_eq(mc_poisson_count(mc_spike_mean(-3.0f, 10.0f), 0.99f), 0.0f);
  config_free(&ex);
}

/* Counts from mc_poisson_count with uniforms from the spike stream: mean and variance λ,
 * within five standard errors, from far below one spike per step to thousands (the normal
 * quantile above MC_POISSON_EXACT); and for small λ the probability of each count. */
Test(spikes, counts_have_the_poisson_mean_and_variance) {
  const double lams[] = {0.02, 0.3, 1.7, 6.0, 15.8, 16.3, 45.0, 2500.0};
  const int N = 200000;
  for (size_t c = 0; c < sizeof lams / sizeof lams[0]; c++) {
    double lam = lams[c], sum = 0, sum2 = 0, hist[12] = {0};
    for (int i = 0; i < N; i++) {
      philox4x32_ctr_t w = ap_rng_block(99, AP_RNG_SPIKES, (uint32_t)c, (uint32_t)i, 0);
      double n = mc_poisson_count((float)lam, ap_u01_open(w.v[0]));
      sum += n;
      sum2 += n * n;
      if (n < 12) hist[(int)n]++;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    double se_mean = sqrt(lam / N), se_var = sqrt((lam + 2 * lam * lam) / N);
    cr_log_info("λ %g: mean %.5g (se %.2g), variance %.5g (se %.2g)", lam, mean, se_mean, var,
                se_var);
    cr_assert_lt(fabs(mean - lam), 5 * se_mean, "λ %g: mean %g", lam, mean);
    cr_assert_lt(fabs(var - lam), 5 * se_var + 1.0 / 12, "λ %g: variance %g", lam, var);
    if (lam < MC_POISSON_EXACT) /* inversion: every count with its probability */
      for (int n = 0; n < 12; n++) {
        double p = exp(-lam + n * log(lam) - lgamma(n + 1.0)), se = sqrt(p * (1 - p) / N);
        cr_assert_leq(fabs(hist[n] / N - p), 5 * se + 1e-6, "λ %g: P(%d) = %g, want %g", lam, n,
                      hist[n] / N, p);
      }
  }
}

/* t_ref > 0 (thesis eq. 2.19): at most one spike a step with probability p = 1 - e^-λ,
 * then n_ref = t_ref / dt silent steps. So no two spikes closer than n_ref + 1 steps, and
 * the rate is 1 / (n_ref + 1/p) per step; counted over 100 000 steps per lane. */
Test(spikes, the_refractory_rate_follows_its_formula_and_no_spikes_come_closer) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = bars\n[model]\nneuron = poisson\nt_ref = 0.5\n"
                     "[sweep]\npsi = 1, 3, 10, 30, 100, 300, 1000, 3000\n");
  McLanes k;
  lanes_of(&k, &ex);
  const int T = 100000, n_ref = 5;
  float rate[MC_LN], ref[MC_LN] = {0};
  int last[MC_LN], min_isi[MC_LN], spikes[MC_LN] = {0};
  for (int l = 0; l < MC_LN; l++) {
    cr_assert_eq(k.n_ref[l], (float)n_ref);
    last[l] = -1000000, min_isi[l] = 1000000;
  }
  for (int t = 0; t < T; t++) {
    for (int l = 0; l < MC_LN; l++) rate[l] = 1.0f; /* λ = ψ dt */
    McTick tk = {AP_RNG_SPIKES, 0, (uint32_t)t};
    mc_emit(rate, ref, (McRows){0, 1}, 0, tk, &k);
    for (int l = 0; l < MC_LN; l++) {
      float n = rate[l] * k.psi_dt[l];
      cr_assert(n == 0.0f || n == 1.0f, "a refractory neuron sent %g spikes in a step", n);
      if (n == 1.0f) {
        if (t - last[l] < min_isi[l]) min_isi[l] = t - last[l];
        last[l] = t;
        spikes[l]++;
      }
    }
  }
  for (int l = 0; l < MC_LN; l++) {
    double p = -expm1(-(double)k.psi_dt[l]), mu = n_ref + 1 / p, var = (1 - p) / (p * p);
    double want = T / mu, se = sqrt(T * var / (mu * mu * mu));
    cr_log_info("λ %g: %d spikes (formula %.1f ± %.1f), closest %d steps apart", k.psi_dt[l],
                spikes[l], want, se, min_isi[l]);
    cr_assert_lt(fabs(spikes[l] - want), 5 * se + 1, "λ %g: %d spikes, formula %.1f", k.psi_dt[l],
                 spikes[l], want);
    cr_assert_geq(min_isi[l], n_ref + 1, "λ %g: spikes %d steps apart", k.psi_dt[l], min_isi[l]);
    if (p > 0.5) /* a likely spike comes right after the silence */
      cr_assert_eq(min_isi[l], n_ref + 1, "λ %g: never right after the silence", k.psi_dt[l]);
  }
  config_free(&ex);
}

/* ---- plasticity: per step against event-based ------------------------------------------ */

/* What runs updates every synapse every step with the presynaptic trace x_j (the spikes
 * low-passed with k_s = dt/τ_s): W_ij += c V*_i(t) x_j(t), c = η dt, V*_i the dendritic error
 * (the rate model's rule with the rate replaced by the trace, thesis eqs. 2.26-2.29 with
 * κ = δ, no low-pass of the update). Stapmanns et al. 2021 (thesis eqs. 2.42-2.53) apply
 * the same rule event by event: between two presynaptic spikes x_j only decays,
 * x_j(t) = (1 - k_s)^(t - t_a) x_j(t_a), so the change from the spike at t_a to the next
 * one is the closed form c x_j(t_a) Σ_{t_a <= t < t_b} V*_i(t) (1 - k_s)^(t - t_a) (the
 * I_1 term of eq. 2.43), summed over the postsynaptic neuron's error history, which each
 * neuron keeps once for all its synapses; the synapse learns it only when a spike
 * arrives. Here: the output layer's W_up (hidden pyramids to output) over 400 steps of 8
 * replicas, the history kept as the synapse would, the weights compared at the end. */
Test(plasticity, per_step_traces_equal_the_event_based_closed_form) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = random\n[data]\nrandom_samples = 5\n"
                     "[train]\nepochs = 1\nval_samples = 0\n"
                     "[model]\ndims = 5, 6, 3\nneuron = poisson\nvariant = le\nt_pres = 1\n"
                     "psi = 4\ntau_s = 0.5\ntau_dend = 0.3\neta_up = 0.3, 0.8\neta_ip = 0.1\n"
                     "w_max_out = 100\n[sweep]\nseed = 1..8\n");
  Session s;
  ApError err = {{0}};
  cr_assert_eq(session_open(&s, &ex, ap_backend_cpu(), NULL, &err), AP_OK, "%s", err.msg);
  McDims dims = mc_dims(th_mc(&ex, 0));
  McLayout lay;
  McWork wo;
  cr_assert_eq(mc_layout_init(&lay, &dims, NULL), AP_OK);
  mc_work_init(&wo, &dims);
  size_t nf = (size_t)lay.n_floats;
  float *st = calloc(nf * MC_LN, sizeof *st), *wk = calloc((size_t)wo.n_rows * MC_LN, sizeof *wk);
  uint32_t perm[5 * MC_LN] = {0};
  for (int l = 0; l < MC_LN; l++)
    for (size_t e = 0; e < nf; e++) st[e * MC_LN + l] = s.state[(size_t)l * nf + e];
  McLanes k;
  lanes_of(&k, &ex);
  McBody b = {.st = st,
              .wk = wk,
              .perm = perm,
              .stride = MC_LN,
              .lay = &lay,
              .wo = &wo,
              .k = &k,
              .sch = mc_sched(th_mc(&ex, 0), &s.data),
              .data = &s.data,
              .team = 1};
  mc_body_refresh(&b);

  enum { T = 400, NH = 6, NO = 3 };
  const McLayerOffsets *o = &lay.layer[1];
  double w0[NO][NH][MC_LN], hist[T][NO][MC_LN]; /* the postsynaptic error history */
  float spk[T][NH][MC_LN];                      /* the hidden pyramids' spikes, n/(ψ dt) */
  for (int i = 0; i < NO; i++)
    for (int j = 0; j < NH; j++)
      for (int l = 0; l < MC_LN; l++) w0[i][j][l] = st[(o->w_up + i * NH + j) * MC_LN + l];
  float x0[NH][MC_LN]; /* the traces before the first step, and the spikes in flight */
  for (int j = 0; j < NH; j++)
    for (int l = 0; l < MC_LN; l++) {
      x0[j][l] = st[(lay.layer[0].tr_pyr + j) * MC_LN + l];
      cr_assert_eq(st[(lay.layer[0].sp_pyr + j) * MC_LN + l], 0.0f);
    }
  for (int t = 0; t < T; t++) {
    uint32_t idx[MC_LN];
    float hit[MC_LN], sq[MC_LN];
    for (int l = 0; l < MC_LN; l++) idx[l] = (uint32_t)(t % 5);
    McTick tk = {AP_RNG_SPIKES, 0, (uint32_t)t};
    mc_body_sample(&b, s.data.x_train, s.data.y_train, idx, 1, 1, 0, tk, hit, sq);
    const float *e = wk + (size_t)wo.err * MC_LN; /* the output layer's, computed last */
    const float *sent = wk + ((size_t)wo.rate[b.cur] + (size_t)wo.rate_pyr[0]) * MC_LN;
    for (int l = 0; l < MC_LN; l++) {
      for (int i = 0; i < NO; i++) hist[t][i][l] = e[i * MC_LN + l];
      for (int j = 0; j < NH; j++) spk[t][j][l] = sent[j * MC_LN + l];
    }
  }

  /* event-based, in double: each synapse (i, j) keeps the time of its last presynaptic
   * spike t_a and its trace then, and at the next spike (or at the end) adds the closed
   * form over neuron i's history since t_a */
  double worst = 0, moved = 0;
  int events = 0, long_gaps = 0;
  for (int l = 0; l < MC_LN; l++) {
    double c = k.c_up[1][l], ks = k.k_s[l], d = 1 - ks;
    for (int j = 0; j < NH; j++)
      for (int i = 0; i < NO; i++) {
        double w = w0[i][j][l], xa = x0[j][l] * d; /* x(0): the trace after no spikes */
        int ta = 0;
        for (int t = 1; t <= T; t++) {
          int arrives = t < T && spk[t - 1][j][l] != 0.0f;
          if (!arrives && t < T) continue;
          double sum = 0, decay = 1;
          for (int q = ta; q < t; q++, decay *= d) sum += hist[q][i][l] * decay;
          w += c * xa * sum;
          if (i == 0) events += arrives, long_gaps += t - ta > 2;
          if (arrives) xa = decay * xa + ks * spk[t - 1][j][l], ta = t;
        }
        double got = st[(o->w_up + i * NH + j) * MC_LN + l];
        worst = fmax(worst, fabs(got - w));
        moved = fmax(moved, fabs(w - w0[i][j][l]));
      }
  }
  cr_log_info("%d presynaptic spikes, %d gaps longer than 2 steps; weights moved up to %.4g, "
              "per step and event-based differ by %.3g at most",
              events, long_gaps, moved, worst);
  cr_assert_gt(events, 1000, "too few spikes (%d) for the test to test", events);
  cr_assert_gt(long_gaps, 300, "the decay between spikes went untested (%d gaps)", long_gaps);
  cr_assert_gt(moved, 0.1, "the weights hardly moved (%g)", moved);
  /* float rounding: a few ulp of the weights per step, over T steps */
  cr_assert_lt(worst, 2e-5, "per step and event-based weights differ by %g", worst);
  free(st), free(wk);
  session_close(&s);
  config_free(&ex);
}

/* ---- the rate model as ψ grows ---------------------------------------------------------- */

/* With τ_s = τ_dend = dt (the defaults) a spiking replica's dendrites and traces carry
 * n / (ψ dt), whose mean is the rate and whose noise falls as 1 / sqrt(ψ): the weights
 * after 2 epochs of Bars (640 steps) approach the rate replica's with the same seed. The
 * median over 6 seeds of the RMS weight difference falls with every tenfold ψ, by at
 * least 2 each time (sqrt(10) expected). */
Test(convergence, spiking_weights_approach_the_rate_model_as_psi_grows) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = bars\n[train]\nepochs = 2\nval_samples = 0\n"
                     "[model]\nvariant = le\nt_pres = 20\neta_up = 0.25, 0.05\neta_ip = 0.1\n"
                     "[sweep]\nseed = 1..6\n"
                     "[sweep.rate]\nneuron = rate\n"
                     "[sweep.poisson]\nneuron = poisson\npsi = 10, 100, 1000, 10000\n");
  Session s;
  th_run(&s, &ex, 2);
  size_t nf = (size_t)s.lay->n_floats;
  double med[4];
  for (int pi = 0; pi < 4; pi++) {
    double d[6];
    int n = 0;
    for (int r = 0; r < s.R; r++) {
      const McParams *p = th_mc(&ex, r);
      if (p->neuron != MC_POISSON || p->psi != pow(10, pi + 1)) continue;
      int rr = -1; /* the rate replica of the same seed */
      for (int q = 0; q < s.R; q++)
        if (th_mc(&ex, q)->neuron == MC_RATE && th_mc(&ex, q)->seed == p->seed) rr = q;
      cr_assert_geq(rr, 0);
      double sum = 0;
      int m = 0;
      for (int f = 0; f < s.lay->n_fields; f++) {
        const ApField *fl = &s.lay->field[f];
        if (fl->kind != AP_FIELD_WEIGHT) continue;
        for (int i = 0; i < fl->shape[0] * fl->shape[1]; i++, m++) {
          double a = s.state[(size_t)r * nf + (size_t)fl->offset + (size_t)i];
          double b = s.state[(size_t)rr * nf + (size_t)fl->offset + (size_t)i];
          sum += (a - b) * (a - b);
        }
      }
      d[n++] = sqrt(sum / m);
    }
    cr_assert_eq(n, 6);
    for (int i = 0; i < n; i++) /* sort for the median */
      for (int j = i + 1; j < n; j++)
        if (d[j] < d[i]) {
          double t = d[i];
          d[i] = d[j], d[j] = t;
        }
    med[pi] = (d[2] + d[3]) / 2;
    cr_log_info("psi %g: RMS weight difference to the rate model, median %.4g [%.4g, %.4g]",
                pow(10, pi + 1), med[pi], d[0], d[5]);
  }
  for (int pi = 1; pi < 4; pi++)
    cr_assert_lt(med[pi] * 2, med[pi - 1], "psi %g: %g, psi %g: %g", pow(10, pi), med[pi - 1],
                 pow(10, pi + 1), med[pi]);
  session_close(&s);
  config_free(&ex);
}

/* ---- learning ------------------------------------------------------------------------- */

/* The spiking LE network learns Bars: at t_pres = 100 dt, ψ = 300 and dendrites leaking
 * over 3 dt, at least 4 of 5 seeds classify at least 7 of the 8 validation samples after
 * 300 epochs. The same replicas without plasticity (η = 0) in the same run do not (the assertion
 * tells a network that learns from one that does not). */
Test(learning, spiking_le_network_learns_bars) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = bars\n[train]\nepochs = 300\n"
                     "[model]\nneuron = poisson\nvariant = le\nt_pres = 100\npsi = 300\n"
                     "tau_dend = 0.3\n[sweep]\nseed = 1..5\n"
                     "[sweep.learning]\neta_up = [0.05, 0.01]\neta_ip = 0.02\n"
                     "[sweep.still]\neta_up = [0, 0]\neta_ip = 0\n");
  Session s;
  th_run(&s, &ex, 2);
  int learned = 0, frozen_learned = 0;
  for (int r = 0; r < s.R; r++) {
    float acc = th_series(&s, "val_acc", r, ex.epochs - 1, 0);
    int plastic = th_mc(&ex, r)->eta_up[0] != 0;
    cr_log_info("seed %llu, %s: validation accuracy %.3f", (unsigned long long)th_mc(&ex, r)->seed,
                plastic ? "learning" : "no plasticity", acc);
    if (plastic)
      learned += acc >= 0.875f;
    else
      frozen_learned += acc >= 0.875f;
  }
  cr_assert_geq(learned, 4, "only %d of 5 seeds reached 7/8", learned);
  cr_assert_eq(frozen_learned, 0, "%d replicas without plasticity reached 7/8", frozen_learned);
  session_close(&s);
  config_free(&ex);
}
