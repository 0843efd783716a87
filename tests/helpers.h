/* Shared by the tests: experiments from INI text, sessions on the CPU backend, temp dirs. */
#ifndef AP_TEST_HELPERS_H
#define AP_TEST_HELPERS_H

#include "host/config.h"
#include "host/session.h"
#include "kernels/mc/mc_params.h"

#include <criterion/criterion.h>

/* Builds an experiment from INI text (a microcircuit unless the text names a model: the
 * line is appended, so line numbers stay); fails the test with the message on error. */
void th_experiment(ApExperiment *ex, const char *ini_text);
/* Builds and returns the status (for tests of bad input); err gets the message. The text
 * is taken as is. */
ap_status th_try_experiment(ApExperiment *ex, const char *ini_text, ApError *err);
/* Opens a CPU session with n threads (0: default) and runs all epochs. */
void th_run(Session *s, const ApExperiment *ex, int threads);
/* The same with CPU kernel version (NULL: auto). */
void th_run_version(Session *s, const ApExperiment *ex, int threads, const char *version);
/* Opens a CPU session and runs all epochs cut into calls of `every` units (Session.units),
 * each call's end resumed by a new session from the canonical state, the series and the
 * events, as a checkpoint and --resume do; s is the last session. */
void th_run_cut(Session *s, const ApExperiment *ex, const ApExec *exec, long long every);
/* A fresh empty directory under $TMPDIR (ctest points it into the build tree), removed
 * with everything in it when the test's process exits (APICAL_KEEP_TEST_DIRS=1 keeps
 * them, to look at a failure's files). */
void th_tempdir(char *out, size_t n);
/* Runs `cd dir && env program args` (stdout to dir/stdout); returns the exit code (-1 if
 * killed by a signal) and stderr's text in err. */
int th_program(const char *dir, const char *env, const char *program, const char *args, char *err,
               size_t n);
/* Writes text to path. */
void th_write(const char *path, const void *data, size_t n);
/* Writes text to dir/name. */
void th_file(const char *dir, const char *name, const char *text);
/* An uncompressed IDX file of unsigned bytes (type 0x08): rank dims, then the data. */
void th_write_idx(const char *path, int rank, const unsigned *dims, const unsigned char *data,
                  size_t n);
/* Element h of series `name` of replica r at record e. */
float th_series(const Session *s, const char *name, int r, int e, int h);
/* Replica r's parameters, as the microcircuit's. */
const McParams *th_mc(const ApExperiment *ex, int r);

#endif
