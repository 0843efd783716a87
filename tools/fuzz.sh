#!/bin/bash
# libFuzzer over everything that reads untrusted bytes (tests/fuzz), with address and
# undefined-behaviour sanitizers, each harness for SECONDS from its seed corpus in
# tests/fuzz/corpus:
#   ini    experiment files of every model (the INI reader, keys, sweeps, the models' checks)
#   idx    IDX datasets (raw and gzip)
#   h5     results files and checkpoints: every reader (resume, results, events, shards),
#          raw bytes against the checksum and sealed ones against the readers behind it
#   merge  apical merge with one fuzzed shard beside a good one
#   opts   the command line: options and --set, with --print-config
# Any crash, leak, timeout or out-of-memory fails (exit 1) and leaves the input in
# build-fuzz/. Needs clang and HDF5 (tools/test.sh installs them).
#   tools/fuzz.sh [SECONDS] [HARNESS...]   (default: 60 s for ini and idx, 45 s for the rest)
#   tools/fuzz.sh --seeds BUILD_DIR        rewrite tests/fuzz/files and corpus/h5 with
#                                          BUILD_DIR/apical (after a change of the file format)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--seeds" ]; then
  apical=$(realpath "$2/apical")
  work=$(mktemp -d)
  # the experiments of tests/fuzz/fuzz_h5.h, one per model: results, checkpoints, shards
  gcc -I. -DFUZZ_H5_TEXTS_ONLY -x c - -o "$work/texts" <<'C'
#include "tests/fuzz/fuzz_h5.h"
int main(int argc, char **argv) { fputs(fuzz_h5_texts[atoi(argv[1])], stdout); return 0; }
C
  # tests/fuzz/files: per model its results, a checkpoint and both shards, as written;
  # corpus/h5: byte 0 picks the harness's mode (fuzz_h5.h), byte 1 the file: 0 and a whole
  # file as it is, or 1 and structured changes of one of tests/fuzz/files
  out=tests/fuzz/corpus/h5 files=tests/fuzz/files
  mkdir -p "$out" "$files"
  rm -f "$out"/* "$files"/*
  for i in 0 1 2; do
    "$work/texts" $i >"$work/x.ini"
    name=$(sed -n 's/^name = //p' "$work/x.ini")
    (cd "$work" && "$apical" run x.ini --out whole --backend cpu --threads 1 >/dev/null &&
      "$apical" run x.ini --out s0 --shard 0/2 --backend cpu --threads 1 >/dev/null &&
      "$apical" run x.ini --out s1 --shard 1/2 --backend cpu --threads 1 >/dev/null)
    cp "$work/whole/results.h5" "$files/$name-results.h5"
    cp "$work/whole/checkpoints/epoch-000000002.h5" "$files/$name-checkpoint.h5"
    cp "$work/s0/results.h5" "$files/$name-shard0.h5"
    cp "$work/s1/results.h5" "$files/$name-shard1.h5"
    rm -rf "$work/whole" "$work/s0" "$work/s1"
    b=$((i * 4))
    # the whole shard 1 file as it is
    (printf "\\000\\$(printf %o $((b + 3)))" && cat "$files/$name-shard1.h5") >"$out/$name-raw-shard1"
    # structured: shard_index (attribute 13) = 7; epochs_done (7) = -1; the experiment (10)
    # as 3 integers; a dataset replaced; one deleted
    printf "\\001\\$(printf %o $((b + 3)))\\000\\015\\000\\000\\000\\000\\000\\000\\000\\007" >"$out/$name-shard-index"
    printf "\\001\\$(printf %o $((b + 1)))\\000\\007\\377\\377\\377\\377\\377\\377\\377\\377" >"$out/$name-epochs-done"
    printf "\\001\\$(printf %o $b)\\001\\012\\000\\001\\003\\001\\002\\003\\004\\005\\006\\007\\010" >"$out/$name-experiment-ints"
    printf "\\001\\$(printf %o $((b + 3)))\\003\\002\\001\\001\\005\\377\\377\\377\\377\\000\\000\\000\\000" >"$out/$name-dataset"
    printf "\\001\\$(printf %o $((b + 1)))\\004\\003\\004\\011" >"$out/$name-delete"
  done
  rm -rf "$work"
  ls -l "$out" "$files"
  exit 0
fi

seconds=${1:-}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ini idx h5 merge opts)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DAPICAL_FUZZ=ON \
  -DAPICAL_CUDA=OFF -DAPICAL_HDF5=ON -DAPICAL_TESTS=OFF -DAPICAL_NATIVE=OFF \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -Wno-pass-failed" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
for target in "${targets[@]}"; do
  secs=${seconds:-$([ "$target" = ini ] || [ "$target" = idx ] && echo 60 || echo 45)}
  work=$(mktemp -d)
  cp tests/fuzz/corpus/$target/* "$work/" 2>/dev/null || cp tests/fuzz/corpus/h5/* "$work/"
  extra=()
  [ "$target" = ini ] && extra=(-dict="$PWD/tests/fuzz/ini.dict")
  [ "$target" = merge ] && extra=(-max_len=200000)
  echo "fuzz: $target for ${secs}s"
  (cd build-fuzz && ./fuzz_$target "$work" "${extra[@]}" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E "stat::number_of_executed_units|ERROR|SUMMARY|crash-|leak-|timeout-|oom-") || true
  rm -rf "$work"
  if ls build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* build-fuzz/oom-* >/dev/null 2>&1; then
    echo "fuzz: $target found a failing input (build-fuzz/)"
    exit 1
  fi
done
echo "fuzz: no crash, leak, timeout or out-of-memory"
