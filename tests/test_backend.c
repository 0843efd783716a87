/* Backend selection: auto falls back to the CPU with a reason; an explicit cuda request
 * fails with EX_UNAVAILABLE where no device (or no CUDA build) can serve it. CUDA parity
 * tests skip here when no device answers. */
#include "helpers.h"

#include <string.h>

Test(backend, auto_falls_back_to_the_cpu_with_a_reason) {
  const ApBackend *be = NULL;
  char note[512];
  ApError err = {{0}};
  cr_assert_eq(ap_backend_select("auto", &be, note, sizeof note, &err), AP_OK, "%s", err.msg);
  const ApBackend *cuda = ap_backend_cuda();
  ApError why = {{0}};
  if (cuda && cuda->probe(&why) == AP_OK) {
    cr_assert_str_eq(be->name, "cuda");
    cr_assert_str_empty(note);
  } else {
    cr_assert_str_eq(be->name, "cpu");
    if (cuda)
      cr_assert(strstr(note, "no GPU answered"), "note: %s", note);
    else
      cr_assert_str_empty(note); /* a build without CUDA has nothing to explain */
    cr_assert_null(strchr(note, '\n'));
  }
}

Test(backend, explicit_cuda_without_a_device_is_unavailable) {
  const ApBackend *cuda = ap_backend_cuda();
  ApError why = {{0}};
  if (cuda && cuda->probe(&why) == AP_OK) cr_skip_test("a CUDA device answers here");
  const ApBackend *be = NULL;
  char note[512];
  ApError err = {{0}};
  cr_assert_eq(ap_backend_select("cuda", &be, note, sizeof note, &err), AP_ERR_UNAVAILABLE);
  cr_assert(strstr(err.msg, "cuda"), "%s", err.msg);
  cr_assert_eq(ap_backend_select("quantum", &be, note, sizeof note, &err), AP_ERR_USAGE);
}

Test(backend, cpu_state_round_trips_through_the_lane_layout) {
  ApExperiment ex;
  th_experiment(&ex, "[train]\nepochs = 1\n[sweep]\nseed = 1..21\n");
  Session s;
  ApError err = {{0}};
  cr_assert_eq(session_open(&s, &ex, ap_backend_cpu(), NULL, &err), AP_OK);
  size_t n = (size_t)s.R * (size_t)s.lay->n_floats;
  float *before = malloc(n * sizeof *before);
  for (size_t i = 0; i < n; i++) s.state[i] = before[i] = (float)i * 0.5f;
  cr_assert_eq(session_push(&s, &err), AP_OK);
  memset(s.state, 0, n * sizeof *s.state);
  cr_assert_eq(session_pull(&s, &err), AP_OK);
  cr_assert_eq(memcmp(before, s.state, n * sizeof *before), 0);
  free(before);
  session_close(&s);
  config_free(&ex);
}

/* The team's guard: the team first, then a record a thread per replica, then the faster,
 * the other timed again every 8th call; a team that times slower gives way and comes back
 * when it times faster. */
Test(backend, the_team_guard_takes_the_faster_and_times_the_other_now_and_then) {
  ApTeamGuard g = {{0.0, 0.0}, 0};
  int probe, mode = ap_team_guard_pick(&g, &probe);
  cr_assert(mode == 1 && !probe, "the first call: the team, nothing else timed");
  ap_team_guard_took(&g, 1, 2.0, 1.0); /* the team: 2 s a replica-record */
  mode = ap_team_guard_pick(&g, &probe);
  cr_assert(mode == 1 && probe, "the second call: a record a thread each, timed");
  ap_team_guard_took(&g, 0, 0.5, 1.0); /* a thread each: faster */
  cr_assert_eq(ap_team_guard_best(&g), 0);
  int probes = 0;
  for (int call = 0; call < 16; call++) {
    mode = ap_team_guard_pick(&g, &probe);
    cr_assert_eq(mode, 0, "a thread each while it times faster");
    probes += probe;
  }
  cr_assert_eq(probes, 2, "the team timed again every 8th call: %d times in 16", probes);
  ap_team_guard_took(&g, 1, 0.25, 1.0); /* the cores free again: the team faster */
  mode = ap_team_guard_pick(&g, &probe);
  cr_assert_eq(mode, 1, "back on the team once it times faster");
}
