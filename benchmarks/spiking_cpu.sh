#!/bin/bash
# Rate against Poisson-spiking microcircuits on the CPU, side by side in one run: Bars
# 9-30-3, LE, the same t_pres, 1, 64 and 1024 replicas; the rate network and the spiking
# one at several psi (psi 300 is experiments/bars_tpres_spiking.ini's),
# alternating round by round so that drift hits all alike. Median replica-steps/s of each
# and its cost against the rate network; writes benchmarks/results/cpu-spiking-DATE-COMMIT.md.
#   benchmarks/spiking_cpu.sh [BUILD_DIR] [ROUNDS]      (default: build, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/record_lib.sh
source benchmarks/record_lib.sh
build=${1:-build} rounds=${2:-3}
bench=$build/benchmarks/bench_mc
[ -x "$bench" ] || { echo "spiking_cpu: no $bench; build first (README)"; exit 1; }
configs=("rate" "poisson psi 10" "poisson psi 30" "poisson psi 100" "poisson psi 300" "poisson psi 1000" "poisson psi 10000")
sets() {
  case "$1" in
    rate) echo "--set model.neuron=rate" ;;
    *) echo "--set model.neuron=poisson --set model.psi=${1##* }" ;;
  esac
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < rounds; i++)); do
  for c in "${!configs[@]}"; do
    # shellcheck disable=SC2046
    "$bench" --replicas 1,64,1024 --t-pres 100 --seconds 2 --threads "$(nproc)" $(sets "${configs[$c]}") |
      awk -v c="$c" '$1 ~ /^[0-9]+$/ {print c, $1, $4}' >>"$tmp/all"
    echo -n "." >&2
  done
done
echo >&2
out=benchmarks/results/cpu-spiking-$(date -u +%F)-$commit.md
{
  echo "# Rate vs Poisson-spiking microcircuit, CPU"
  echo
  echo "- machine: $cpu_name, $(nproc) cores, $(nproc) threads"
  echo "- commit: $commit$dirty; $(date -u +%FT%TZ)"
  echo "- command: \`benchmarks/spiking_cpu.sh $build $rounds\` (bench_mc: Bars 9-30-3, LE, t_pres 100, whole training epochs; spiking with tau_s = tau_dend = dt; $rounds rounds alternating, medians)"
  echo
  echo "| replicas | network | replica-steps/s | time vs rate |"
  echo "| ---: | --- | ---: | ---: |"
  for r in 1 64 1024; do
    base=$(awk -v r="$r" '$1 == 0 && $2 == r {print $3}' "$tmp/all" | median)
    for c in "${!configs[@]}"; do
      m=$(awk -v r="$r" -v c="$c" '$1 == c && $2 == r {print $3}' "$tmp/all" | median)
      awk -v r="$r" -v n="${configs[$c]}" -v m="$m" -v b="$base" \
        'BEGIN {printf "| %d | %s | %.3g | %.2fx |\n", r, n, m, b / m}'
    done
  done
} >"$out"
cat "$out"
echo "wrote $out" >&2
