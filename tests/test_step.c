/* One time step of every neuron type and every plastic synapse, through the CPU backend,
 * against the step written out by hand in double precision (MODELS.md §1). */
#include "helpers.h"

#include <math.h>
#include <string.h>

static double phi(double x) { return x < -15 ? 0 : x < 15 ? log1p(exp(x)) : x; }

typedef struct Net { /* dims 3-2-1: one hidden layer, one interneuron */
  double w_up0[2][3], w_down[2][1], w_pi[2][1], w_ip[1][2], w_up1[1][2];
  double u_p[2], f_p[2], u_i[1], f_i[1], u_o[1], f_o[1];
  double r_in[3], tgt[1], tgt_last[1], nudge_last;
} Net;

static float *field(Session *s, const char *name) {
  const ApField *f = ap_layout_field(s->lay, name);
  cr_assert_not_null(f, "no field %s", name);
  return s->state + f->offset; /* replica 0 */
}

#define PUT(name, arr)                                                                             \
  do {                                                                                             \
    float *dst = field(s, name);                                                                   \
    const double *src = (const double *)(arr);                                                     \
    for (size_t i = 0; i < sizeof(arr) / sizeof(double); i++) dst[i] = (float)src[i];              \
  } while (0)
#define GET(name, arr)                                                                             \
  do {                                                                                             \
    const float *src = field(s, name);                                                             \
    double *dst = (double *)(arr);                                                                 \
    for (size_t i = 0; i < sizeof(arr) / sizeof(double); i++) dst[i] = src[i];                     \
  } while (0)

static void put(Session *s, const Net *n) {
  PUT("layer0/W_up", n->w_up0);
  PUT("layer0/W_down", n->w_down);
  PUT("layer0/W_pi", n->w_pi);
  PUT("layer0/W_ip", n->w_ip);
  PUT("layer1/W_up", n->w_up1);
  PUT("layer0/u_pyr", n->u_p);
  PUT("layer0/forw_pyr", n->f_p);
  PUT("layer0/u_inn", n->u_i);
  PUT("layer0/forw_inn", n->f_i);
  PUT("layer1/u_pyr", n->u_o);
  PUT("layer1/forw_pyr", n->f_o);
  PUT("input/r_in", n->r_in);
  PUT("target/u_tgt", n->tgt);
  PUT("target/u_tgt_last", n->tgt_last);
  field(s, "target/nudge_last")[0] = (float)n->nudge_last;
}

static void get(Session *s, Net *n) {
  GET("layer0/W_up", n->w_up0);
  GET("layer0/W_down", n->w_down);
  GET("layer0/W_pi", n->w_pi);
  GET("layer0/W_ip", n->w_ip);
  GET("layer1/W_up", n->w_up1);
  GET("layer0/u_pyr", n->u_p);
  GET("layer0/forw_pyr", n->f_p);
  GET("layer0/u_inn", n->u_i);
  GET("layer0/forw_inn", n->f_i);
  GET("layer1/u_pyr", n->u_o);
  GET("layer1/forw_pyr", n->f_o);
  GET("target/u_tgt_last", n->tgt_last);
  n->nudge_last = field(s, "target/nudge_last")[0];
}

/* The step by hand. x: the sample, tgt: its target potential, learn: plasticity on. */
static void step(Net *n, const McParams *p, const double *x, double tgt, int le, int learn) {
  double gl = p->gl, gb = p->gb, ga = p->ga, gs = p->gsom, dt = p->dt, k = p->dt / p->tau0;
  double gp = gl + gb + ga, gi = gl + gb + gs, go = gl + gb + gs;
  Net o = *n; /* every update reads the previous state */
  for (int j = 0; j < 3; j++) n->r_in[j] = o.r_in[j] + k * (x[j] - o.r_in[j]);
  n->tgt[0] = o.tgt[0] + k * (tgt - o.tgt[0]);
  double r_p[2], r_i = phi(le ? o.f_i[0] : o.u_i[0]), r_o = phi(le ? o.f_o[0] : o.u_o[0]);
  for (int i = 0; i < 2; i++) r_p[i] = phi(le ? o.f_p[i] : o.u_p[i]);
  double u_next = le ? o.f_o[0] : o.u_o[0];
  /* hidden pyramids */
  double err_p[2], v_api[2];
  for (int i = 0; i < 2; i++) {
    double vb = 0;
    for (int j = 0; j < 3; j++) vb += o.w_up0[i][j] * n->r_in[j];
    v_api[i] = o.w_down[i][0] * r_o + o.w_pi[i][0] * r_i;
    double udot = gp * ((gb * vb + ga * v_api[i]) / gp - o.u_p[i]);
    double post = le ? o.u_p[i] + udot / gp : o.u_p[i] + dt * udot;
    err_p[i] = phi(post) - phi(gb / gp * vb);
    n->u_p[i] = o.u_p[i] + dt * udot;
    n->f_p[i] = o.u_p[i] + udot / gp;
  }
  /* interneuron, nudged by its sister's potential */
  double vd = o.w_ip[0][0] * r_p[0] + o.w_ip[0][1] * r_p[1];
  double udot_i = gi * ((gb * vd + gs * u_next) / gi - o.u_i[0]);
  double post_i = le ? o.u_i[0] + udot_i / gi : o.u_i[0] + dt * udot_i;
  double err_i = phi(post_i) - phi(gb / (gl + gb) * vd);
  n->u_i[0] = o.u_i[0] + dt * udot_i;
  n->f_i[0] = o.u_i[0] + udot_i / gi;
  /* output: under LE the target and the nudging flag arrive one step late */
  double vo = o.w_up1[0][0] * r_p[0] + o.w_up1[0][1] * r_p[1];
  double nudge = le ? o.nudge_last : 1.0, t = le ? o.tgt_last[0] : n->tgt[0];
  double ss = nudge ? (gb * vo + gs * t) / go : gb * vo / (gl + gb);
  double udot_o = go * (ss - o.u_o[0]);
  double post_o = le ? o.u_o[0] + udot_o / go : o.u_o[0] + dt * udot_o;
  double err_o = phi(post_o) - phi(gb / (gl + gb) * vo);
  n->u_o[0] = o.u_o[0] + dt * udot_o;
  n->f_o[0] = o.u_o[0] + udot_o / go;
  /* Urbanczik-Senn updates */
  for (int i = 0; learn && i < 2; i++) {
    for (int j = 0; j < 3; j++) {
      double w = o.w_up0[i][j] + dt * p->eta_up[0] * err_p[i] * n->r_in[j];
      n->w_up0[i][j] = fmax(-p->w_max_hidden, fmin(p->w_max_hidden, w));
    }
    n->w_pi[i][0] = o.w_pi[i][0] + dt * p->eta_pi[0] * -v_api[i] * r_i;
    n->w_ip[0][i] = o.w_ip[0][i] + dt * p->eta_ip[0] * err_i * r_p[i];
    double w = o.w_up1[0][i] + dt * p->eta_up[1] * err_o * r_p[i];
    n->w_up1[0][i] = fmax(-p->w_max_out, fmin(p->w_max_out, w));
  }
  n->tgt_last[0] = n->tgt[0];
  n->nudge_last = 1.0;
}

static void check(const double *got, const double *want, int n, const char *what) {
  for (int i = 0; i < n; i++)
    cr_assert(fabs(got[i] - want[i]) <= 2e-6 * (1 + fabs(want[i])),
              "%s[%d]: apical %.9g, by hand %.9g", what, i, got[i], want[i]);
}

/* One sample of t_pres steps, plasticity from step learn_lag on ([train] learn_lag). */
static void steps(int le, double nudge_last, int t_pres, int learn_lag) {
  ApExperiment ex;
  char ini[512];
  snprintf(ini, sizeof ini,
           "[experiment]\ndataset = random\n[data]\nrandom_samples = 1\n"
           "[train]\nepochs = 1\nval_samples = 0\nlearn_lag = %d\n"
           "[model]\ndims = 3, 2, 1\nvariant = %s\nt_pres = %d\neta_up = 0.7, 0.9\n"
           "eta_ip = 0.5\neta_pi = 0.3\nw_max_hidden = 0.8\n",
           learn_lag, le ? "le" : "original", t_pres);
  th_experiment(&ex, ini);
  Session sess, *s = &sess;
  ApError err = {{0}};
  cr_assert_eq(session_open(s, &ex, ap_backend_cpu(), NULL, &err), AP_OK, "%s", err.msg);
  Net n = {{{0.3, -0.5, 0.9}, {-0.7, 0.2, 0.75}},
           {{0.6}, {-0.4}},
           {{-0.5}, {0.45}},
           {{0.8, -0.3}},
           {{1.1, -0.6}},
           {0.2, -0.3},
           {0.25, -0.1},
           {0.4},
           {0.35},
           {0.5},
           {0.6},
           {0.1, 0.9, 0.4},
           {0.3},
           {0.2},
           nudge_last};
  put(s, &n);
  cr_assert_eq(session_push(s, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_run(s, 0, 1, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_pull(s, &err), AP_OK, "%s", err.msg);
  Net got = n, want = n;
  get(s, &got);
  double x[3];
  for (int j = 0; j < 3; j++) x[j] = s->data.x_train[j];
  for (int t = 0; t < t_pres; t++)
    step(&want, th_mc(&ex, 0), x, th_mc(&ex, 0)->u_high, le, t >= learn_lag);
  check(got.u_p, want.u_p, 2, "u_pyr");
  check(got.f_p, want.f_p, 2, "forw_pyr");
  check(got.u_i, want.u_i, 1, "u_inn");
  check(got.f_i, want.f_i, 1, "forw_inn");
  check(got.u_o, want.u_o, 1, "u_out");
  check(got.f_o, want.f_o, 1, "forw_out");
  check(&got.w_up0[0][0], &want.w_up0[0][0], 6, "W_up hidden");
  check(&got.w_pi[0][0], &want.w_pi[0][0], 2, "W_pi");
  check(&got.w_ip[0][0], &want.w_ip[0][0], 2, "W_ip");
  check(&got.w_up1[0][0], &want.w_up1[0][0], 2, "W_up output");
  check(got.tgt_last, want.tgt_last, 1, "u_tgt_last");
  cr_assert_eq(got.nudge_last, 1.0);
  if (t_pres == 1) { /* the clip engaged somewhere, or the test would not test it */
    int clipped = 0;
    for (int i = 0; i < 6; i++) clipped |= fabs((&want.w_up0[0][0])[i]) == 0.8;
    cr_assert(clipped, "no hidden weight reached w_max_hidden; the test lost its clip case");
  } else { /* the weights moved in the steps that learn, or the test would not test them */
    cr_assert(fabs(want.w_ip[0][0] - n.w_ip[0][0]) > 1e-4, "W_ip did not move");
  }
  session_close(s);
  config_free(&ex);
}

static void one_step(int le, double nudge_last) { steps(le, nudge_last, 1, 0); }

Test(step, original_variant_by_hand) { one_step(0, 0.0); }
/* under LE the previous step's nudging flag and target act: once each way */
Test(step, latent_equilibrium_by_hand_previous_step_unnudged) { one_step(1, 0.0); }
Test(step, latent_equilibrium_by_hand_previous_step_nudged) { one_step(1, 1.0); }

/* [train] learn_lag: the first steps of a sample move no weight, the later ones do. */
Test(step, learn_lag_keeps_the_first_steps_of_a_sample_from_learning_by_hand) {
  steps(1, 1.0, 4, 2);
  steps(0, 0.0, 4, 3);
}
