/* libFuzzer: a results file or checkpoint from fuzz bytes must be read or refused with
 * one message by every reader apical has: checkpoints (--resume), results, events, the
 * shard attributes. No crash, leak or hang. Byte 0 picks the mode (fuzz_h5.h): the bytes
 * as the whole file (the checksum must refuse every change), or structured changes of a
 * real file of some model (tests/fuzz/files) sealed again, so that the readers' checks of
 * types, shapes and ranges behind the checksum are what is fuzzed. tools/fuzz.sh. */
#include "fuzz_h5.h"
#include "host/h5io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_h5_init();
  const ApExperiment *ex;
  const char *path = fuzz_h5_file(data, size, &ex, NULL);
  const ApLayout *lay = &ex->layout;
  size_t ns = (size_t)ex->n_replicas * (size_t)lay->n_floats,
         nr = (size_t)ex->n_replicas * (size_t)ex->epochs * (size_t)lay->series_width;
  float *state = calloc(ns + 1, sizeof *state), *series = calloc(nr + 1, sizeof *series);
  if (!state || !series) abort();
  for (int kind = 0; kind < 2; kind++) {
    ApError err = {{0}};
    char *dump = NULL;
    int done = 0;
    ap_status st = kind ? results_read(path, ex, state, series, &done, &dump, &err)
                        : ckpt_read(path, ex, state, series, &done, &dump, &err);
    if (!st && (done < 0 || done > ex->epochs)) abort();   /* read as good, yet impossible */
    if (st && !err.msg[0] && st != AP_ERR_CONFIG) abort(); /* refused without a reason */
    free(dump);
  }
  free(state), free(series);
  uint32_t *pairs = NULL;
  uint64_t *start = NULL;
  ApError err = {{0}};
  if (!ckpt_read_events(path, ex, &pairs, &start, &err) && start &&
      start[0] > start[ex->n_replicas])
    abort();
  free(pairs), free(start);
  int index, count;
  runfile_shard(path, &index, &count);
  if (count && (index < 0 || index >= count)) abort();
  ShardFile sf;
  if (!shard_file_read(path, &sf, &err)) {
    if (sf.index < 0 || sf.index >= sf.count || sf.n < 1 || sf.n > sf.n_total) abort();
    shard_file_free(&sf);
  }
  unlink(path);
  return 0;
}
