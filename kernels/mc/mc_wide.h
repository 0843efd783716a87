/* The microcircuit's wide path on the CPU (mc_wide.c): replica-major, one replica at a
 * time per team of threads. mc_cpu.c picks it per cohort (mc_wide_pick) and hands over. */
#ifndef MC_WIDE_H
#define MC_WIDE_H

#include "../model.h"

typedef struct McWide McWide;

/* Whether the wide path runs spec's cohort: version "wide" or "lanes", or by size (auto). */
int mc_wide_pick(const ApCohortSpec *spec, const char *version);
ap_status mc_wide_create(const ApCohortSpec *spec, McWide **out, ApError *err);
/* The memory mc_wide_create and mc_wide_run allocate for spec's cohort. */
void mc_wide_memory(const ApCohortSpec *spec, ApCohortMem *out);
void mc_wide_destroy(McWide *w);
void mc_wide_state_set(McWide *w, const float *state);
void mc_wide_state_get(const McWide *w, float *state);
/* The cohorts ws[0 .. n-1] from `from` to `to` (samples, mc_units); busy[ci[i]] gets
 * ws[i]'s thread-seconds. */
ap_status mc_wide_run(McWide *const *ws, const int *ci, int n, ApPos from, ApPos to,
                      const ApSeriesBuf *out, double *busy, ApError *err);
void mc_wide_describe(const McWide *w, char *buf, size_t n);

#endif
