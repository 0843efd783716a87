#!/bin/bash
# Two bench_mc binaries side by side on this machine, alternating A B A B ... so that
# drift hits both alike; prints each one's median replica-steps/s per replica count and
# the ratio B/A. For "speed unchanged" checks of a refactor:
#   benchmarks/ab_bench.sh OLD/bench_mc NEW/bench_mc [ROUNDS] [bench_mc options...]
set -euo pipefail
# shellcheck source=benchmarks/record_lib.sh
source "$(dirname "$0")/record_lib.sh"
a=$1 b=$2 rounds=${3:-5}
shift 3 || shift $#
opts=("$@")
[ ${#opts[@]} -gt 0 ] || opts=(--replicas 1,64,1024 --seconds 3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < rounds; i++)); do
  for side in a b; do
    bin=${!side}
    "$bin" "${opts[@]}" | awk '$1 ~ /^[0-9]+$/ {print $1, $4}' >>"$tmp/$side"
  done
done
echo "# $cpu_name, $(nproc) cores; $rounds rounds alternating"
echo "# A = $a"
echo "# B = $b"
printf "%10s %14s %14s %8s\n" replicas "A steps/s" "B steps/s" "B/A"
for r in $(awk '{print $1}' "$tmp/a" | sort -n -u); do
  ma=$(awk -v r="$r" '$1 == r {print $2}' "$tmp/a" | median)
  mb=$(awk -v r="$r" '$1 == r {print $2}' "$tmp/b" | median)
  awk -v r="$r" -v a="$ma" -v b="$mb" 'BEGIN {printf "%10d %14.4g %14.4g %8.3f\n", r, a, b, b / a}'
done
