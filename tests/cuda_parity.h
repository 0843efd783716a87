/* The CUDA backend against the CPU backend, as plain functions: tests/test_cuda.c asserts
 * on them, benchmarks/cuda_check.c (no Criterion, no HDF5) runs them on GPU machines.
 *
 * The microcircuit's generic kernel runs the CPU backend's body (kernels/mc/mc_body.h
 * with one lane, checked on the CPU by test_replica.c) and the warp kernel its version of
 * it (checked by test_warp.c); MSTDP's kernels run kernels/mstdp/ms_body.h with a block
 * as the team (rows16 with its own row pass, summed in the body's order); LIF-STDP's
 * kernel runs kernels/lif/ls_body.h with a block as the team (pending inputs and weight
 * sums in fixed point, so the atomics' order does not matter; the raster is sorted into
 * the CPU's order on the host); every rounding is fixed by the source: fmaf written out,
 * no compiler contraction on either side (-ffp-contract=off, --fmad=false), IEEE division
 * and square root. So the comparison is exact, states, series and events (the model's
 * recordings, e.g. a spike raster) alike; a mismatch in the last bit means some operation
 * differs. */
#ifndef AP_CUDA_PARITY_H
#define AP_CUDA_PARITY_H

#include "kernels/backend.h"

#include <stddef.h>

typedef struct ParityCase {
  const char *name;
  const char *ini;    /* experiment file text */
  int max_replicas;   /* 0: all of the sweep */
  int gpu_epochs;     /* 0: all on both backends; else this many on the GPU, the rest on the CPU */
  const char *kernel; /* the CUDA kernel version for the run (NULL: auto) */
  int gpu_chunk;      /* records per session_run call on the GPU, each a launch (0: all at once);
                       * -k: k units (ApModel.units) per call, stopping inside records, the
                       * state pulled and pushed back at each stop (a checkpoint's round trip) */
  int in_ci;          /* small enough for the simulator in CI (tools/gpusim_check.sh) */
} ParityCase;

extern const ParityCase parity_cases[];
extern const int parity_n_cases;

/* AP_OK when CUDA (the backend given) and the CPU agree bit for bit; otherwise msg says
 * where they first differ (or why the case could not run). */
ap_status parity_run(const ParityCase *pc, const ApBackend *cuda, char *msg, size_t n);

/* AP_OK when two sessions of one experiment hold the same bits: every state element and
 * every series value (NaN as NaN); otherwise msg names the first difference. */
struct Session;
ap_status parity_compare(const struct Session *a, const struct Session *b, const char *name_a,
                         const char *name_b, char *msg, size_t n);

/* NULL (and the reason in why) when no CUDA device answers. */
const ApBackend *parity_cuda(char *why, size_t n);

#endif
