/* Every results and checkpoint file carries a SHA-256 of itself in HDF5's user block (the
 * first AP_DIGEST_BLOCK bytes, which HDF5 reserves for its user and skips; h5py and h5dump
 * read the file as usual). It covers every byte after the block: the HDF5 metadata
 * (object headers, B-trees, heaps), every attribute and every dataset, so a damaged file
 * is refused before libhdf5 parses any of it. Layout: docs/file-format.md. */
#ifndef AP_DIGEST_H
#define AP_DIGEST_H

#include "kernels/core/ap_defs.h"

#include <stddef.h>
#include <stdint.h>

#define AP_DIGEST_BLOCK 512

typedef struct ApSha256 {
  uint32_t h[8];
  uint64_t n; /* bytes so far */
  unsigned char buf[64];
} ApSha256;

void ap_sha256_init(ApSha256 *c);
void ap_sha256_update(ApSha256 *c, const void *data, size_t n);
void ap_sha256_final(ApSha256 *c, unsigned char out[32]);

/* Writes the digest of image[AP_DIGEST_BLOCK .. size) into the user block at its start
 * (which HDF5 left zero). */
void digest_seal(unsigned char *image, size_t size);

/* Checks a sealed image / file: AP_OK, or AP_ERR_DATA with "NAME: what failed" (an HDF5
 * file without the block: written before format 3, or not by apical). */
ap_status digest_check_image(const unsigned char *image, size_t size, const char *name,
                             ApError *err);
ap_status digest_check_file(const char *path, ApError *err);

/* 1 when the file is a plain HDF5 file with no checksum block (an older apical's, or not
 * apical's): not damaged, but not verifiable either. */
int digest_unsealed(const char *path);

#endif
