/* libFuzzer: apical merge of a model's good shard 0/2 (tests/fuzz/files) with a shard 1/2
 * from fuzz bytes (fuzz_h5.h: the bytes as the whole file, which the checksum must refuse
 * unless unchanged, or structured changes of its attributes and datasets sealed again, so
 * that merge's handling of them is what is fuzzed): merged, or refused with one message;
 * no crash, leak or hang. tools/fuzz.sh. */
#include "fuzz_h5.h"
#include "host/merge.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_h5_init();
  const ApExperiment *ex;
  int base;
  const char *path = fuzz_h5_file(data, size, &ex, &base);
  int model = base / 4; /* beside that model's good shard 0/2 */
  char out[96], res[160], written[600];
  snprintf(out, sizeof out, "/tmp/apical-fuzz-merge-%ld", (long)getpid());
  const char *args[2] = {fuzz_h5_base(model * 4 + 2, NULL), path};
  ApError err = {{0}};
  ap_status st = merge_shards(args, 2, out, 1, NULL, "fuzz", written, sizeof written, &err);
  if (st && !err.msg[0]) abort(); /* refused without a reason */
  snprintf(res, sizeof res, "%s/results.h5", out);
  unlink(res);
  rmdir(out);
  unlink(path);
  return 0;
}
