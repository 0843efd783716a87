#!/bin/bash
# CPU benchmarks, side by side in one run: apical's bench_mc on the Bars 9-30-3 network at
# 1, 64 and 1024 replicas, the same network batched in JAX and in numpy (when
# benchmarks/.venv exists: benchmarks/compare/setup_venv.sh makes it), and the wall time
# of the full experiments/bars_tpres.ini study. Writes benchmarks/results/cpu-DATE-COMMIT.md.
#
#   benchmarks/run_cpu.sh [--skip-study] [--seconds 3] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=3 threads=$(nproc) study=1
while (($#)); do
  case $1 in
    --skip-study) study=0 ;;
    --seconds) seconds=$2; shift ;;
    --threads) threads=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run_cpu: unknown option $1" >&2; exit 64 ;;
  esac
  shift
done
[ -x build/benchmarks/bench_mc ] || tools/setup.sh
# shellcheck source=benchmarks/record_lib.sh
source benchmarks/record_lib.sh
out=benchmarks/results/cpu-$(date +%Y-%m-%d)-$commit.md
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
simd=$(grep -o -w -m1 -E 'avx512f' /proc/cpuinfo | head -1 || true)
[ -n "$simd" ] || simd=$(grep -o -w -m1 -E 'avx2' /proc/cpuinfo | head -1 || true)
py=benchmarks/.venv/bin/python
{
  echo "# CPU benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- commit: $commit$dirty"
  echo "- CPU: $cpu (${simd:-no AVX}), $(nproc) cores visible; threads used: $threads"
  march=x86-64-v3
  grep -q '^APICAL_NATIVE:BOOL=ON' build/CMakeCache.txt 2>/dev/null && march=native
  echo "- compiler: $(gcc --version | head -1); build: Release, -O3 -march=$march"
  echo "- command: benchmarks/run_cpu.sh --seconds $seconds --threads $threads"
  echo
  echo "Replica-steps per second of training steps (teacher and plasticity on) of the Bars"
  echo "9-30-3 microcircuit, t_pres 100, each replica its own sample order."
  for variant in le original; do
    echo
    echo "## $variant"
    echo
    echo '```'
    build/benchmarks/bench_mc --replicas 1,64,1024 --seconds "$seconds" --threads "$threads" --variant $variant
    if [ -x "$py" ]; then
      "$py" benchmarks/compare/bars_jax.py --replicas 1,64,1024 --seconds "$seconds" --threads "$threads" --variant $variant 2>/dev/null
      "$py" benchmarks/compare/bars_numpy.py --replicas 1,64,1024 --seconds "$seconds" --threads "$threads" --variant $variant 2>/dev/null
    else
      echo "# (no benchmarks/.venv: JAX and numpy baselines skipped; benchmarks/compare/setup_venv.sh)"
    fi
    echo '```'
  done
  if ((study)); then
    echo
    echo "## Full study: experiments/bars_tpres.ini (220 replicas, 1000 epochs)"
    echo
    dir=$(mktemp -d)
    start=$(date +%s.%N)
    build/apical run experiments/bars_tpres.ini --out "$dir" --threads "$threads" >"$dir/stdout" 2>"$dir/stderr"
    end=$(date +%s.%N)
    echo '```'
    grep -E "^done|^validation|^  [0-9]" "$dir/stderr"
    echo '```'
    awk -v a="$start" -v b="$end" 'BEGIN { printf "\nwall time: %.1f s\n", b - a }'
    rm -rf "$dir"
  fi
} | tee "$out"
echo "run_cpu: wrote $out" >&2
