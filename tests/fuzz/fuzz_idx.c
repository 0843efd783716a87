/* libFuzzer: IDX files (raw or gzip) from arbitrary bytes must load or be refused with one
 * message: no crash, leak, hang or memory blow-up. The input is split at its first byte:
 * that many (times 8) bytes of image file, the rest the label file. tools/fuzz.sh runs it
 * over tests/fuzz/corpus/idx. */
#include "datasets/dataset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *path, const uint8_t *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(data, 1, n, f) != n) abort();
  fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t split = (size_t)data[0] * 8;
  if (split > size - 1) split = size - 1;
  char images[64], labels[64];
  snprintf(images, sizeof images, "/tmp/apical-fuzz-%d-i", (int)getpid());
  snprintf(labels, sizeof labels, "/tmp/apical-fuzz-%d-l", (int)getpid());
  put(images, data + 1, split);
  put(labels, data + 1 + split, size - 1 - split);
  ApDataset ds;
  ApError err = {{0}};
  if (ds_idx(&ds, images, labels, images, labels, 0, 0, &err) == AP_OK) ds_free(&ds);
  unlink(images);
  unlink(labels);
  return 0;
}
