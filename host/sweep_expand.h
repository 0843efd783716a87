/* The replica set of an experiment: the cross products of the [sweep] axes, one per
 * [sweep.NAME] section (docs/experiment-files.md, "Sweeps"). The values of one item come
 * from host/sweep.h where they are a range with a step or a function. */
#ifndef AP_SWEEP_EXPAND_H
#define AP_SWEEP_EXPAND_H

#include "host/config.h"

/* Appends every replica of the file's sweeps to ex->replicas (ex->base with each axis's
 * values applied; sweep order: groups in order of first appearance, seed fastest) and
 * names the swept keys in ex->swept. */
ap_status sweep_expand(ApExperiment *ex, const Ini *ini, ApError *err);

#endif
