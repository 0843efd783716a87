/* The MSTDP energy network (MODELS.md §2): iterations against a hand computation in
 * double precision for every reading, the rule's indices, clamping, learning against a
 * control that cannot learn, and the bit-identity of batches, threads and resumption. */
#define MS_FN static inline
#define MS_SIMD
#define MS_SYNC()                                                                                  \
  do {                                                                                             \
    (void)t;                                                                                       \
  } while (0)
#include "kernels/mstdp/ms_body.h"

#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const MsParams *ms_of(const ApExperiment *ex, int r) { return config_params(ex, r); }

/* ---- a reference in double: every unit pair, receiver-major ------------------------------ */

typedef struct Ref {
  int P, C, V, H, N;  /* canonical unit order: visible (pixels, labels), then hidden */
  double *w;          /* [N][N]: w[i][j] from j to i; 0 where there is no synapse */
  unsigned char *syn; /* [N][N]: 1 where a synapse exists */
  double *b, *s, *v;  /* [N] */
} Ref;

static double rho_d(double s) { return 1.0 / (1.0 + exp(-4.0 * s)); }

static void ref_from_state(Ref *r, const MsParams *p, const float *st) {
  r->P = p->pixels, r->C = p->labels, r->V = r->P + r->C, r->H = p->hidden, r->N = r->V + r->H;
  int N = r->N, V = r->V, H = r->H;
  r->w = calloc((size_t)N * N, sizeof *r->w);
  r->syn = calloc((size_t)N * N, 1);
  r->b = calloc((size_t)N, sizeof *r->b);
  r->s = calloc((size_t)N, sizeof *r->s);
  r->v = calloc((size_t)N, sizeof *r->v);
  const float *q = st;
  for (int i = 0; i < H; i++) /* W_vh */
    for (int j = 0; j < V; j++) r->w[(size_t)(V + i) * N + j] = *q++, r->syn[(V + i) * N + j] = 1;
  for (int i = 0; i < H; i++) /* W_hh */
    for (int j = 0; j < H; j++) {
      r->w[(size_t)(V + i) * N + V + j] = *q++;
      r->syn[(V + i) * N + V + j] = i != j;
    }
  for (int i = 0; i < V; i++) /* W_hv */
    for (int j = 0; j < H; j++) r->w[(size_t)i * N + V + j] = *q++, r->syn[i * N + V + j] = 1;
  for (int i = 0; i < V; i++) r->b[i] = *q++;
  for (int i = 0; i < H; i++) r->b[V + i] = *q++;
  for (int i = 0; i < V; i++) r->s[i] = *q++;
  for (int i = 0; i < H; i++) r->s[V + i] = *q++;
  for (int i = 0; i < V; i++) r->v[i] = *q++;
  for (int i = 0; i < H; i++) r->v[V + i] = *q++;
}

static void ref_free(Ref *r) { free(r->w), free(r->syn), free(r->b), free(r->s), free(r->v); }

/* One iteration of MODELS.md §2, written from the text: units [lo, hi) clamped to d in a
 * clamped phase; learning with rule `rule`. */
static void ref_iterate(Ref *r, const MsParams *p, int clamped_phase, int lo, int hi,
                        const double *d, int learn, int rule) {
  int N = r->N;
  double *r0 = malloc((size_t)N * sizeof *r0), *r1 = malloc((size_t)N * sizeof *r1);
  double *R = malloc((size_t)N * sizeof *R), *s0 = malloc((size_t)N * sizeof *s0);
  for (int j = 0; j < N; j++) r0[j] = rho_d(r->s[j]), s0[j] = r->s[j];
  for (int i = 0; i < N; i++) {
    double in = r->b[i];
    for (int j = 0; j < N; j++)
      if (r->syn[i * N + j]) in += r->w[(size_t)i * N + j] * r0[j];
    R[i] = 4.0 * r0[i] * (1.0 - r0[i]) * in; /* eq. 2 */
  }
  for (int i = 0; i < N; i++) {
    int cl = clamped_phase && i >= lo && i < hi;
    double pull = cl ? d[i] - s0[i] : 0.0;
    if (clamped_phase) {
      double drive = R[i] - s0[i] + (p->clamp == MS_CLAMP_MOMENTUM ? p->beta * pull : 0.0);
      r->v[i] = p->m * drive + (1.0 - p->m) * r->v[i];
      r->s[i] = s0[i] + p->eps * r->v[i];
      if (p->clamp == MS_CLAMP_STEP) r->s[i] += p->beta * pull;
      if (p->clamp == MS_CLAMP_STEP_EPS) r->s[i] += p->eps * p->beta * pull;
    } else if (p->free_phase == MS_FREE_EQ1) {
      r->s[i] = s0[i] + p->eps * (R[i] - s0[i]);
    } else {
      r->s[i] = s0[i] + p->eps * r->v[i];
    }
    r1[i] = rho_d(r->s[i]);
  }
  if (learn) {
    for (int i = 0; i < N; i++) {
      double smooth = p->smoothing ? -p->alpha * (R[i] - s0[i]) * 4.0 * r0[i] * (1.0 - r0[i]) : 0.0;
      for (int j = 0; j < N; j++) {
        if (!r->syn[i * N + j]) continue;
        double dw = rule == MS_RULE_POST ? p->alpha * (r1[i] - r0[i]) * r0[j]  /* receiver's */
                                         : p->alpha * (r1[j] - r0[j]) * r0[i]; /* sender's */
        r->w[(size_t)i * N + j] += dw + smooth * r0[j];
      }
      r->b[i] += p->alpha * (r1[i] - r0[i]) + smooth;
    }
  }
  free(r0), free(r1), free(R), free(s0);
}

/* The largest difference between the reference and a canonical state, over weights
 * (what = 0), biases (1), states and velocities (2). */
static double ref_diff(const Ref *r, const float *st, int what) {
  Ref a;
  MsParams p = {.pixels = r->P, .labels = r->C, .hidden = r->H};
  ref_from_state(&a, &p, st);
  double m = 0.0;
  int N = r->N;
  for (int i = 0; i < N; i++) {
    if (what == 0)
      for (int j = 0; j < N; j++)
        m = fmax(m, fabs(a.w[(size_t)i * N + j] - r->w[(size_t)i * N + j]));
    if (what == 1) m = fmax(m, fabs(a.b[i] - r->b[i]));
    if (what == 2) m = fmax(m, fmax(fabs(a.s[i] - r->s[i]), fabs(a.v[i] - r->v[i])));
  }
  ref_free(&a);
  return m;
}

/* One training presentation of Bars image 0 with cycles = 1 and two iterations per phase
 * (two clamped iterations that learn, the second applying the first's update, then two
 * free ones), through the CPU backend, for every combination of the readings; against
 * the reference, and against the reference with the other rule, which must be far off
 * (so that a backend with the indices swapped fails). */
Test(iteration, a_presentation_equals_the_hand_computation_in_double_for_every_reading) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 1\n"
                     "presentations = 1\ntest_samples = 0\ntrain_eval = 0\n"
                     "[model]\npixels = 9\nlabels = 3\nhidden = 5\ncycles = 1\niterations = 2\n"
                     "alpha = 0.05\ninit_scale = 0.6\nstate_scale = 0.5\n"
                     "[sweep]\nclamp = step, momentum, step_eps\nrule = post, pre\n"
                     "free = eq1, frozen\nsmoothing = off, on\ndata_range = pm1, 01\nseed = 3\n");
  cr_assert_eq(ex.n_replicas, 48);
  Session s;
  ApError err = {{0}};
  ApExec exec = {.threads = 1};
  cr_assert_eq(session_open(&s, &ex, ap_backend_cpu(), &exec, &err), AP_OK, "%s", err.msg);
  size_t nf = (size_t)s.lay->n_floats;
  float *init = malloc((size_t)s.R * nf * sizeof *init);
  memcpy(init, s.state, (size_t)s.R * nf * sizeof *init);
  cr_assert_eq(session_run(&s, 0, 1, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_pull(&s, &err), AP_OK, "%s", err.msg);
  const float *x = s.data.x_train;
  int y = s.data.y_train[0];
  for (int rep = 0; rep < s.R; rep++) {
    const MsParams *p = ms_of(&ex, rep);
    double d[12];
    for (int i = 0; i < 9; i++) d[i] = p->data_range == MS_RANGE_PM1 ? 2.0 * x[i] - 1.0 : x[i];
    for (int c = 0; c < 3; c++)
      d[9 + c] = c == y ? 1.0 : (p->data_range == MS_RANGE_PM1 ? -1.0 : 0.0);
    Ref want[2];
    for (int k = 0; k < 2; k++) {
      int rule = k ? !p->rule : p->rule;
      ref_from_state(&want[k], p, init + (size_t)rep * nf);
      for (int it = 0; it < 2; it++) ref_iterate(&want[k], p, 1, 0, 12, d, 1, rule);
      for (int it = 0; it < 2; it++) ref_iterate(&want[k], p, 0, 0, 0, d, 0, rule);
    }
    const float *got = s.state + (size_t)rep * nf;
    double ew = ref_diff(&want[0], got, 0), eb = ref_diff(&want[0], got, 1),
           es = ref_diff(&want[0], got, 2), other = ref_diff(&want[1], got, 0);
    cr_assert(ew < 2e-6 && eb < 2e-6 && es < 5e-6,
              "replica %d (clamp %d rule %d free %d smoothing %d range %d): weights off by %.3g, "
              "biases %.3g, states %.3g",
              rep, p->clamp, p->rule, p->free_phase, p->smoothing, p->data_range, ew, eb, es);
    cr_assert(other > 100 * 2e-6,
              "replica %d: the other rule's reference is as close (%.3g): the test cannot tell "
              "the indices apart",
              rep, other);
    ref_free(&want[0]), ref_free(&want[1]);
  }
  free(init);
  session_close(&s);
  config_free(&ex);
}

/* ---- clamping ----------------------------------------------------------------------------- */

/* A replica of the body, team of one, from an experiment's replica 0 and its initial state. */
typedef struct Net {
  MsRep r;
  MsConst k;
  MsDims d;
  MsSeries ser;
  float *mem;
  ApDataset ds;
  ApData data;
} Net;

static void net_open(Net *n, const char *text) {
  ApExperiment ex;
  th_experiment(&ex, text);
  const MsParams *p = ms_of(&ex, 0);
  ApError err = {{0}};
  cr_assert_eq(ds_bars(&n->ds, &err), AP_OK);
  n->data = ds_view(&n->ds);
  n->d = ms_dims(p);
  ms_const_init(&n->k, p, &n->data);
  ApLayout lay;
  ms_layout_init(p, &lay, &n->ser);
  size_t np = (size_t)n->d.Np;
  n->mem = calloc(ms_rep_floats(&n->d), sizeof(float));
  MsRep *r = &n->r;
  memset(r, 0, sizeof *r);
  ms_rep_carve(r, n->mem, &n->d);
  r->perm_pass = -1;
  /* weights and states from the model's initial state */
  float *st = malloc((size_t)lay.n_floats * sizeof *st);
  ex.model->init(st, p, &n->data);
  Ref a;
  ref_from_state(&a, p, st);
  for (int i = 0; i < n->d.H + n->d.V; i++) {
    int ci = i < n->d.H ? n->d.V + i : i - n->d.H; /* canonical index of internal unit i */
    int u = ms_unit(&n->d, i);
    r->b[u] = (float)a.b[ci];
    r->s[u] = (float)a.s[ci];
    r->rho[u] = ms_rho(r->s[u]);
    for (int j = 0; j < n->d.H + n->d.V; j++) {
      int cj = j < n->d.H ? n->d.V + j : j - n->d.H;
      float w = (float)a.w[(size_t)ci * a.N + cj];
      if (i < n->d.H)
        r->wh[(size_t)i * np + (size_t)ms_unit(&n->d, j)] = w;
      else if (j < n->d.H)
        r->wv[(size_t)(i - n->d.H) * n->d.Hp + j] = w;
    }
  }
  ref_free(&a);
  free(st);
  config_free(&ex);
}

static void net_close(Net *n) {
  free(n->mem);
  ds_free(&n->ds);
}

/* Which visible units a phase clamps: in training, pixels and labels; in a test, the
 * pixels; in generation, the labels; in a free phase, none. A clamped unit (beta 1) ends
 * near its target (the velocity holds it eps (R - s) short of it); an unclamped visible
 * unit stays where the weak initial weights put it, far from +-1. */
Test(clamp, training_clamps_pixels_and_labels_a_test_the_pixels_generation_the_labels) {
  const char *text = "[experiment]\nmodel = mstdp\ndataset = bars\n[model]\npixels = 9\n"
                     "labels = 3\nhidden = 12\niterations = 60\nbeta = 1\n";
  MsTeam t = {0, 1};
  const float x[9] = {1, 0, 1, 1, 1, 0, 0, 0, 1};
  for (int mode = 0; mode < 4; mode++) { /* training, test, generation, free */
    Net n;
    net_open(&n, text);
    MsBody b = {.r = &n.r, .k = &n.k, .d = n.d, .data = &n.data, .ser = &n.ser};
    int Hp = n.d.Hp, pending = 0;
    ms_set_targets(t, &b, x, 2);
    int lo = mode == 2 ? Hp + 9 : Hp, hi = mode == 1 ? Hp + 9 : Hp + 12;
    ms_phase(t, &b, mode != 3, lo, hi, 0, &pending);
    for (int i = 0; i < 12; i++) {
      int clamped = mode != 3 && Hp + i >= lo && Hp + i < hi;
      float s = n.r.s[Hp + i], target = n.r.tgt[Hp + i];
      /* s = d + eps v with v -> R - s at the fixed point: s -> (d + eps R) / (1 + eps) */
      if (clamped)
        cr_assert(fabsf(s - target / (1.0f + n.k.eps)) < 0.1f,
                  "mode %d: clamped unit %d at %g, target %g", mode, i, s, target);
      else
        cr_assert(fabsf(s) < 0.5f, "mode %d: unit %d is not clamped but went to %g", mode, i, s);
    }
    net_close(&n);
  }
}

/* label_copies = K: a label's K visible units (side by side after the pixels) are all
 * clamped to its target, and the label read is the first largest sum of a label's units'
 * states, which one unit alone need not decide. */
Test(clamp, a_labels_copies_share_its_target_and_are_read_as_their_sum) {
  MsDims d = ms_dims_of(9, 3, 4, 5);
  cr_assert_eq(d.V, 9 + 3 * 4);
  float *mem = calloc(ms_rep_floats(&d), sizeof(float));
  MsRep r;
  memset(&r, 0, sizeof r);
  ms_rep_carve(&r, mem, &d);
  MsConst k;
  memset(&k, 0, sizeof k);
  MsBody b = {.r = &r, .k = &k, .d = d};
  MsTeam t = {0, 1};
  const float x[9] = {1, 0, 1, 1, 1, 0, 0, 0, 1};
  for (int range = MS_RANGE_PM1; range <= MS_RANGE_01; range++) {
    k.data_range = range;
    ms_set_targets(t, &b, x, 1);
    for (int i = 0; i < 12; i++)
      cr_assert_eq(r.tgt[d.Hp + 9 + i],
                   i / 4 == 1              ? 1.0f
                   : range == MS_RANGE_PM1 ? -1.0f
                                           : 0.0f,
                   "label unit %d", i);
    cr_assert_eq(r.tgt[d.Hp], 1.0f); /* pixel 0 is 1: 2x - 1 and x agree */
  }
  float *lab = r.s + d.Hp + 9;
  const float s[12] = {0.875f, -0.5f, -0.5f, -0.5f, /* label 0: one unit the largest, sum -0.625 */
                       0.25f,  0.25f, 0.25f, 0.25f, /* label 1: sum 1 */
                       0.5f,   0.5f,  0.0f,  0.0f}; /* label 2: sum 1, not larger: the first */
  memcpy(lab, s, sizeof s);
  cr_assert_eq(ms_label_read(&b), 1);
  lab[11] = 0.25f; /* label 2: 1.25 */
  cr_assert_eq(ms_label_read(&b), 2);
  free(mem);
}

/* ---- learning ----------------------------------------------------------------------------- */

/* Bars (8 images, 3 labels) with the paper's parameters and 30 hidden units: after 1600
 * presentations the label read after the clamped phase is right for most images, where
 * the same replicas with alpha = 0 stay near chance. */
Test(learning, a_small_net_learns_bars_and_one_without_learning_does_not) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 20\n"
                     "presentations = 80\ntest_samples = -1\ntrain_eval = 0\n"
                     "[model]\npixels = 9\nlabels = 3\nhidden = 30\n"
                     "[sweep]\nalpha = 0.001, 0\nseed = 1..3\n");
  Session s;
  th_run(&s, &ex, 0);
  float learned[3], control[3];
  for (int r = 0; r < 6; r++) {
    float a = th_series(&s, "test_acc_clamped", r, ex.epochs - 1, 0);
    if (ms_of(&ex, r)->alpha > 0)
      learned[r % 3] = a;
    else
      control[r % 3] = a;
  }
  int good = 0;
  for (int i = 0; i < 3; i++) {
    good += learned[i] >= 0.75f;
    cr_assert(control[i] <= 0.5f, "seed %d learned without learning: %.3f", i + 1, control[i]);
  }
  cr_assert(good >= 2, "too few seeds learned: %.3f %.3f %.3f", learned[0], learned[1], learned[2]);
  session_close(&s);
  config_free(&ex);
}

/* Read-outs (test, training accuracy, the full test set, generation) start from the
 * training state and restore it: a run with all of them trains to the same bits as one
 * with none, and carries nothing past a record's end (record/series, record/kept: 0). */
Test(readout, reading_out_never_changes_training) {
  const char *base = "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 3\n"
                     "presentations = 4\n%s[model]\npixels = 9\nlabels = 3\nhidden = 17\n"
                     "cycles = 2\niterations = 5\nalpha = 0.01\norder = shuffled\n";
  char with[1024], none[1024];
  snprintf(with, sizeof with, base,
           "test_samples = -1\ntrain_eval = 5\nfull_test_every = 1\ngen_samples = 2\n");
  snprintf(none, sizeof none, base, "test_samples = 0\ntrain_eval = 0\n");
  ApExperiment a, b;
  th_experiment(&a, with);
  th_experiment(&b, none);
  Session sa, sb;
  th_run(&sa, &a, 1);
  th_run(&sb, &b, 1);
  /* the network's fields come first; the record's (its series: as wide as they are) after */
  const ApField *ra = ap_layout_field(sa.lay, "record/series");
  cr_assert(ra && ra == &sa.lay->field[sa.lay->n_fields - 2]);
  cr_assert_eq(ra->offset, ap_layout_field(sb.lay, "record/series")->offset);
  cr_assert(isfinite(th_series(&sa, "test_acc_free", 0, 2, 0)), "the read-outs did not run");
  cr_assert_eq(memcmp(sa.state, sb.state, (size_t)ra->offset * sizeof(float)), 0,
               "reading out changed the trained state");
  for (int i = ra->offset; i < sa.lay->n_floats; i++)
    cr_assert_eq(sa.state[i], 0.0f, "state float %d (after the record's end) is %g", i,
                 (double)sa.state[i]);
  cr_assert_eq(th_series(&sa, "energy", 0, 2, 0), th_series(&sb, "energy", 0, 2, 0));
  session_close(&sa);
  session_close(&sb);
  config_free(&a);
  config_free(&b);
}

/* ---- bit identity ------------------------------------------------------------------------- */

static const char *crowd = "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 3\n"
                           "presentations = 5\ntest_samples = 4\ntrain_eval = 3\n"
                           "full_test_every = 2\ngen_samples = 1\n"
                           "[model]\npixels = 9\nlabels = 3\nhidden = 21\ncycles = 2\n"
                           "iterations = 5\ntest_cycles = 2\nalpha = 0.01\n"
                           "[sweep.crowd]\nseed = 4..5\norder = file, shuffled\n"
                           "rule = post, pre\nsmoothing = off, on\n"
                           "[sweep.diverging]\neps = 1e25\nseed = 4..5\n"; /* 16, 17 */

static void compare(const Session *a, int ra, const Session *b, int rb, int e0) {
  size_t nf = (size_t)a->lay->n_floats, F = (size_t)a->lay->series_width;
  cr_assert_eq(memcmp(a->state + (size_t)ra * nf, b->state + (size_t)rb * nf, nf * sizeof(float)),
               0, "final states differ (replica %d)", ra);
  cr_assert_eq(memcmp(session_record(a, ra, e0), session_record(b, rb, e0),
                      (size_t)(a->E - e0) * F * sizeof(float)),
               0, "series differ (replica %d)", ra);
}

/* Each replica alone on one or two threads, and all of them on two (a thread each, two
 * of them diverging) give the same bits. */
Test(batch, replicas_alone_in_a_crowd_and_split_over_threads_are_bit_identical) {
  ApExperiment ex;
  th_experiment(&ex, crowd);
  cr_assert_eq(ex.n_replicas, 18);
  Session all;
  th_run(&all, &ex, 2);
  const int pick[] = {0, 7, 13};
  for (int q = 0; q < 3; q++) {
    char text[2048];
    const MsParams *p = ms_of(&ex, pick[q]);
    snprintf(text, sizeof text,
             "%.*s\n[model]\nseed = %llu\norder = %s\nrule = %s\nsmoothing = %s\n",
             (int)(strstr(crowd, "[sweep.crowd]") - crowd), crowd, (unsigned long long)p->seed,
             p->order ? "shuffled" : "file", p->rule ? "pre" : "post", p->smoothing ? "on" : "off");
    ApExperiment one;
    th_experiment(&one, text);
    cr_assert_eq(memcmp(config_params(&one, 0), p, sizeof *p), 0, "the single replica differs");
    for (int threads = 1; threads <= 2; threads++) {
      Session s;
      th_run(&s, &one, threads);
      compare(&all, pick[q], &s, 0, 0);
      session_close(&s);
    }
    config_free(&one);
  }
  /* nothing carried past a record's end (record/series, record/kept: 0), frozen or not */
  const ApField *rf = ap_layout_field(all.lay, "record/series");
  for (int r = 0; r < all.R; r++)
    for (int i = rf->offset; i < all.lay->n_floats; i++)
      cr_assert_eq(all.state[(size_t)r * all.lay->n_floats + i], 0.0f, "replica %d float %d", r, i);
  /* the initial state too, whatever the buffer held */
  float *st = malloc((size_t)all.lay->n_floats * sizeof *st);
  memset(st, 0xff, (size_t)all.lay->n_floats * sizeof *st);
  ex.model->init(st, config_params(&ex, 16), &all.data);
  for (int i = rf->offset; i < all.lay->n_floats; i++) cr_assert_eq(st[i], 0.0f, "float %d", i);
  free(st);
  /* the diverging replicas froze in the first record, with NaN series */
  for (int r = 16; r < 18; r++)
    for (int e = 0; e < all.E; e++) {
      cr_assert_eq(th_series(&all, "diverged", r, e, 0), 1.0f, "replica %d record %d", r, e);
      cr_assert(isnan(th_series(&all, "max_abs_s", r, e, 0)));
    }
  /* the read-outs and generation ran and gave numbers */
  cr_assert(isfinite(th_series(&all, "full_test_acc_free", 0, 1, 0)));
  cr_assert(isnan(th_series(&all, "full_test_acc_free", 0, 0, 0)));
  cr_assert(isfinite(th_series(&all, "generated", 0, 2, 5)));
  session_close(&all);
  config_free(&ex);
}

/* A replica large enough to be split over the threads (1.2 M weights) gives the same
 * bits on two threads as on one. */
Test(batch, a_large_replica_split_over_threads_equals_one_thread) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 2\n"
                     "presentations = 2\ntest_samples = 2\ntrain_eval = 1\ngen_samples = 1\n"
                     "[model]\npixels = 9\nlabels = 3\nhidden = 1100\ncycles = 1\n"
                     "iterations = 3\ntest_cycles = 1\nalpha = 0.01\norder = shuffled\n");
  Session one, two;
  th_run(&one, &ex, 1);
  th_run(&two, &ex, 2);
  char how[128];
  two.impl->describe(two.cohorts[0].c, how, sizeof how);
  cr_assert(strstr(how, "all threads on each"), "not split over threads: %s", how);
  compare(&one, 0, &two, 0, 0);
  /* an epoch a call: the team's guard runs the first on the team and times the second a
   * thread each (ApTeamGuard); the same bits */
  Session guarded;
  ApError err = {{0}};
  ApExec exec = {.threads = 2};
  cr_assert_eq(session_open(&guarded, &ex, ap_backend_cpu(), &exec, &err), AP_OK, "%s", err.msg);
  for (int e = 0; e < ex.epochs; e++)
    cr_assert_eq(session_run(&guarded, e, e + 1, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_pull(&guarded, &err), AP_OK, "%s", err.msg);
  compare(&one, 0, &guarded, 0, 0);
  session_close(&guarded);
  session_close(&one);
  session_close(&two);
  config_free(&ex);
}

/* Stops every few units (presentations, then read-out images and generated samples,
 * ms_params.h's MS_PART_*), each stop resumed by a new session from the canonical state
 * and the series, as a checkpoint and --resume do: the bits of the run in one go, inside every
 * read-out, through the full test's and the generation's records and the ones without them, the
 * diverging replicas frozen; on a thread per replica and (the large replica) on a team. */
Test(batch, a_run_stopped_every_few_units_inside_the_read_outs_keeps_the_bits) {
  static const char *large = "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 2\n"
                             "presentations = 2\ntest_samples = 3\ntrain_eval = 2\n"
                             "full_test_every = 2\ngen_samples = 1\n[model]\npixels = 9\n"
                             "labels = 3\nhidden = 1100\ncycles = 1\niterations = 3\n"
                             "test_cycles = 1\nalpha = 0.01\norder = shuffled\n";
  const char *const texts[] = {crowd, large};
  for (int q = 0; q < 2; q++) {
    ApExperiment ex;
    th_experiment(&ex, texts[q]);
    Session whole, cut;
    th_run(&whole, &ex, 2);
    th_run_cut(&cut, &ex, &(ApExec){.threads = 2}, 3);
    const MsParams *p = ms_of(&ex, 0);
    cr_assert_gt(cut.units, p->presentations + p->train_eval + 3, "records of %lld units",
                 cut.units);
    for (int r = 0; r < ex.n_replicas; r++) compare(&whole, r, &cut, r, 0);
    session_close(&whole);
    session_close(&cut);
    config_free(&ex);
  }
}

/* The blas CPU kernel (OpenBLAS sger and sgemv for the row pass) sums in OpenBLAS's order:
 * close to the fused kernel, not the same bits. Every reading of the crowd, diverging
 * replicas included (they freeze in both). */
Test(blas, the_blas_kernel_stays_close_to_the_fused_one) {
#ifndef APICAL_HAVE_CBLAS
  cr_skip_test("this build found no OpenBLAS");
#else
  ApExperiment ex;
  th_experiment(&ex, crowd);
  Session fused, blas;
  th_run(&fused, &ex, 2);
  ApError err = {{0}};
  ApExec exec = {.threads = 2, .cpu_version = "blas"};
  cr_assert_eq(session_open(&blas, &ex, ap_backend_cpu(), &exec, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_run(&blas, 0, ex.epochs, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_pull(&blas, &err), AP_OK, "%s", err.msg);
  size_t nf = (size_t)fused.lay->n_floats;
  double worst = 0.0;
  int differ = 0;
  for (int r = 0; r < 16; r++)
    for (size_t i = 0; i < nf; i++) {
      float a = fused.state[r * nf + i], b = blas.state[r * nf + i];
      worst = fmax(worst, fabs((double)a - b));
      differ |= memcmp(&a, &b, sizeof a) != 0;
    }
  cr_assert(worst < 1e-5, "blas drifted from fused by %.3g", worst);
  cr_assert(differ, "blas gave fused's bits: is it running at all?");
  for (int r = 16; r < 18; r++) cr_assert_eq(th_series(&blas, "diverged", r, 0, 0), 1.0f);
  session_close(&fused);
  session_close(&blas);
  config_free(&ex);
#endif
}

/* Records 0..1, the state to the host and into a new session, then record 2: the same
 * bits as three records in one go (the shuffled order's pass is recomputed, diverged
 * replicas stay frozen). */
Test(resume, a_continued_run_is_bit_identical) {
  ApExperiment ex;
  th_experiment(&ex, crowd);
  Session whole, first, second;
  th_run(&whole, &ex, 2);
  ApError err = {{0}};
  ApExec exec = {.threads = 2};
  cr_assert_eq(session_open(&first, &ex, ap_backend_cpu(), &exec, &err), AP_OK);
  cr_assert_eq(session_run(&first, 0, 2, &err), AP_OK);
  cr_assert_eq(session_pull(&first, &err), AP_OK);
  cr_assert_eq(session_open(&second, &ex, ap_backend_cpu(), &exec, &err), AP_OK);
  memcpy(second.state, first.state, (size_t)first.R * first.lay->n_floats * sizeof(float));
  cr_assert_eq(session_push(&second, &err), AP_OK);
  cr_assert_eq(session_run(&second, 2, 3, &err), AP_OK);
  cr_assert_eq(session_pull(&second, &err), AP_OK);
  for (int r = 0; r < whole.R; r++) compare(&whole, r, &second, r, 2);
  session_close(&whole);
  session_close(&first);
  session_close(&second);
  config_free(&ex);
}
