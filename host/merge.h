/* apical merge: the shards of an experiment (apical run --shard I/N) joined into the
 * results file the unsharded run would have written (docs/experiment-files.md, "Shards"). */
#ifndef AP_MERGE_H
#define AP_MERGE_H

#include "kernels/core/ap_defs.h"

#include <stddef.h>

/* Reads DIR/results.h5 (or the file) of each of the n shards, checks that they are every
 * shard of one experiment once, all after the same record, and writes out_dir/results.h5
 * (refused where it exists, unless force; and where a live run holds out_dir's lock, which
 * the merge takes while it writes); its path into written. partial (NULL: none) labels the
 * file as merged from unfinished or live shards (apical merge --partial). */
ap_status merge_shards(const char *const *dirs, int n, const char *out_dir, int force,
                       const char *partial, const char *command, char *written, size_t written_n,
                       ApError *err);

/* The experiment name a shard's results file (path) was run with; "" if unreadable. */
void merge_experiment_name(const char *path, char *name, size_t n);

#endif
