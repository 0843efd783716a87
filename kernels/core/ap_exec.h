/* How the host wants a cohort run: the one piece of configuration that reaches kernels
 * besides the models' parameter blocks. Both the model interface (ApCohortSpec) and the
 * backends (describe) take it. */
#ifndef AP_EXEC_H
#define AP_EXEC_H

typedef struct ApExec {
  int threads;              /* CPU threads (0: every core) */
  const char *cpu_version;  /* CPU kernel version, NULL or "auto": the implementation picks */
  const char *cuda_version; /* CUDA kernel version, NULL or "auto": the implementation picks */
} ApExec;

#endif
