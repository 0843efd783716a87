#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void ap_sha256_init(ApSha256 *c) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, h0, sizeof h0);
  c->n = 0;
}

void ap_sha256_update(ApSha256 *c, const void *data, size_t n) {
  const unsigned char *p = data;
  size_t have = (size_t)(c->n % 64);
  c->n += n;
  if (have) {
    size_t take = 64 - have < n ? 64 - have : n;
    memcpy(c->buf + have, p, take);
    p += take, n -= take, have += take;
    if (have < 64) return;
    block(c->h, c->buf);
  }
  for (; n >= 64; p += 64, n -= 64) block(c->h, p);
  memcpy(c->buf, p, n);
}

void ap_sha256_final(ApSha256 *c, unsigned char out[32]) {
  uint64_t bits = c->n * 8;
  unsigned char pad[72] = {0x80};
  size_t have = (size_t)(c->n % 64), padn = (have < 56 ? 56 : 120) - have;
  for (int i = 0; i < 8; i++) pad[padn + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
  ap_sha256_update(c, pad, padn + 8);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(c->h[i] >> (24 - 8 * j));
}

/* ---- the user block ---------------------------------------------------------------- */

/* "apical-sha256 HEX64 SIZE\n", then zeros to AP_DIGEST_BLOCK (checked too, so that every
 * byte of the file is covered). */
static const char magic[] = "apical-sha256 ";
static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static void line(const unsigned char *image, size_t size, char *out, size_t n) {
  ApSha256 c;
  unsigned char d[32];
  ap_sha256_init(&c);
  ap_sha256_update(&c, image + AP_DIGEST_BLOCK, size - AP_DIGEST_BLOCK);
  ap_sha256_final(&c, d);
  int k = snprintf(out, n, "%s", magic);
  for (int i = 0; i < 32; i++) k += snprintf(out + k, n - (size_t)k, "%02x", d[i]);
  snprintf(out + k, n - (size_t)k, " %zu\n", size);
}

void digest_seal(unsigned char *image, size_t size) {
  char l[128];
  line(image, size, l, sizeof l);
  memset(image, 0, AP_DIGEST_BLOCK);
  memcpy(image, l, strlen(l));
}

/* The block's parts: 0 and the digest and size, or -1 (the message says what is wrong). */
static int parse_block(const unsigned char *b, size_t file_size, const char *name,
                       unsigned char d[32], ApError *err) {
  if (file_size >= AP_DIGEST_BLOCK + 8 && !memcmp(b, hdf5_signature, 8)) {
    ap_fail(err, AP_ERR_DATA,
            "%s: carries no checksum (written by an apical before file format 3, or not by "
            "apical), so it cannot be verified",
            name);
    return -1;
  }
  size_t m = sizeof magic - 1, end = 0;
  if (file_size < AP_DIGEST_BLOCK || memcmp(b, magic, m)) {
    ap_fail(err, AP_ERR_DATA, "%s: damaged: its checksum header (the first %d bytes) is unreadable",
            name, AP_DIGEST_BLOCK);
    return -1;
  }
  int ok = 1;
  for (int i = 0; i < 32 && ok; i++) {
    unsigned v = 0;
    for (int j = 0; j < 2; j++) {
      unsigned char ch = b[m + 2 * (size_t)i + (size_t)j];
      ok &= (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
      v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    d[i] = (unsigned char)v;
  }
  size_t pos = m + 64, size = 0;
  ok = ok && b[pos++] == ' ';
  int digits = 0;
  while (ok && pos < 100 && b[pos] >= '0' && b[pos] <= '9' && digits < 19)
    size = size * 10 + (size_t)(b[pos++] - '0'), digits++;
  ok = ok && digits > 0 && b[pos++] == '\n';
  end = pos;
  for (size_t i = end; ok && i < AP_DIGEST_BLOCK; i++) ok = b[i] == 0;
  if (!ok) {
    ap_fail(err, AP_ERR_DATA, "%s: damaged: its checksum header (the first %d bytes) is malformed",
            name, AP_DIGEST_BLOCK);
    return -1;
  }
  if (size != file_size) {
    ap_fail(err, AP_ERR_DATA, "%s: damaged: %zu bytes, it was written with %zu (%s)", name,
            file_size, size, file_size < size ? "truncated" : "bytes appended");
    return -1;
  }
  return 0;
}

static ap_status mismatch(const char *name, ApError *err) {
  return ap_fail(err, AP_ERR_DATA,
                 "%s: damaged: its SHA-256 checksum does not match its contents (the file "
                 "changed after apical wrote it)",
                 name);
}

ap_status digest_check_image(const unsigned char *image, size_t size, const char *name,
                             ApError *err) {
  unsigned char want[32], got[32];
  if (size < AP_DIGEST_BLOCK) {
    if (size >= 8 && !memcmp(image, hdf5_signature, 8))
      return ap_fail(err, AP_ERR_DATA,
                     "%s: carries no checksum (written by an apical before file "
                     "format 3, or not by apical), so it cannot be verified",
                     name);
    return ap_fail(err, AP_ERR_DATA, "%s: damaged or not an apical file (%zu bytes)", name, size);
  }
  if (parse_block(image, size, name, want, err)) return AP_ERR_DATA;
  ApSha256 c;
  ap_sha256_init(&c);
  ap_sha256_update(&c, image + AP_DIGEST_BLOCK, size - AP_DIGEST_BLOCK);
  ap_sha256_final(&c, got);
  return memcmp(want, got, 32) ? mismatch(name, err) : AP_OK;
}

ap_status digest_check_file(const char *path, ApError *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return ap_fail(err, errno == ENOENT ? AP_ERR_NOINPUT : AP_ERR_IO, "%s: %s", path,
                   strerror(errno));
  unsigned char head[AP_DIGEST_BLOCK], want[32], got[32];
  unsigned char *buf = malloc(1 << 16);
  struct stat sb;
  ap_status st = AP_OK;
  size_t n = fread(head, 1, sizeof head, fp);
  if (!buf || fstat(fileno(fp), &sb) < 0 || ferror(fp)) {
    st = ap_fail(err, buf ? AP_ERR_IO : AP_ERR_OSERR, "%s: %s", path,
                 buf ? "read error" : "out of memory");
    goto out;
  }
  if (n < AP_DIGEST_BLOCK) {
    st = digest_check_image(head, n, path, err);
    goto out;
  }
  if (parse_block(head, (size_t)sb.st_size, path, want, err)) {
    st = AP_ERR_DATA;
    goto out;
  }
  ApSha256 c;
  ap_sha256_init(&c);
  while ((n = fread(buf, 1, 1 << 16, fp)) > 0) ap_sha256_update(&c, buf, n);
  if (ferror(fp)) {
    st = ap_fail(err, AP_ERR_IO, "%s: read error: %s", path, strerror(errno));
    goto out;
  }
  ap_sha256_final(&c, got);
  if (memcmp(want, got, 32)) st = mismatch(path, err);
out:
  free(buf);
  fclose(fp);
  return st;
}

int digest_unsealed(const char *path) {
  unsigned char b[8];
  FILE *fp = fopen(path, "rb");
  if (!fp) return 0;
  int plain = fread(b, 1, 8, fp) == 8 && !memcmp(b, hdf5_signature, 8);
  fclose(fp);
  return plain;
}
