#!/bin/bash
# The microcircuit where replicas are few and layers wide (issue 15's benchmark): training
# replica-steps per second of 784-100-10 and 784-500-10 at 1, 4 and 16 replicas (64 random
# samples, LE, t_pres 100) and of Bars 9-30-3 at 1 and 1024 replicas, apical (bench_mc)
# beside the same network batched in JAX and numpy (benchmarks/compare/bars_jax.py and
# bars_numpy.py --dims), rounds alternating, medians. Writes
# benchmarks/results/cpu-mc-wide-DATE-COMMIT.md.
#   benchmarks/mc_wide_cpu.sh [BUILD_DIR] [ROUNDS] [SECONDS]     (default: build, 3, 2)
# JAX and numpy: bash benchmarks/compare/setup_venv.sh (benchmarks/.venv); left out without.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/record_lib.sh
source benchmarks/record_lib.sh
build=${1:-build} rounds=${2:-3} secs=${3:-2}
bench=$build/benchmarks/bench_mc
py=benchmarks/.venv/bin/python
[ -x "$bench" ] || { echo "mc_wide_cpu: no $bench; build first (README)"; exit 1; }
peers=1
"$py" -c 'import jax, numpy' >/dev/null 2>&1 || { peers=0; echo "mc_wide_cpu: no jax in $py; apical only" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=$(nproc)
cases="784,100,10:1,4,16 784,500,10:1,4,16 9,30,3:1,1024"
for ((i = 0; i < rounds; i++)); do
  for c in $cases; do
    dims=${c%%:*} reps=${c##*:}
    # columns: dims replicas implementation replica-steps/s
    "$bench" --dims "$dims" --replicas "$reps" --seconds "$secs" --threads "$threads" |
      awk -v d="$dims" '$1 ~ /^[0-9]+$/ {print d, $1, "apical", $4}' >>"$tmp/all"
    if [ "$peers" = 1 ]; then
      for impl in jax numpy; do
        "$py" "benchmarks/compare/bars_$impl.py" --dims "$dims" --replicas "$reps" \
          --seconds "$secs" --threads "$threads" 2>/dev/null |
          awk -v d="$dims" -v i="$impl" '$1 ~ /^[0-9]+$/ {print d, $1, i, $4}' >>"$tmp/all"
      done
    fi
    echo -n "." >&2
  done
done
echo >&2
get() { awk -v d="$1" -v r="$2" -v i="$3" '$1 == d && $2 == r && $3 == i {print $4}' "$tmp/all" | median; }
fmt() { awk -v v="$1" 'BEGIN {if (v == "") print "-"; else printf "%.3g", v}'; }
jv=$([ "$peers" = 1 ] && "$py" -c 'import jax, numpy; print("jax", jax.__version__, "numpy", numpy.__version__)' 2>/dev/null || echo "-")
out=benchmarks/results/cpu-mc-wide-$(date -u +%F)-$commit.md
{
  echo "# The microcircuit with few replicas and wide layers: apical against JAX and numpy"
  echo
  echo "- machine: $cpu_name, $(nproc) cores, $threads threads"
  echo "- commit: $commit$dirty; $(date -u +%FT%TZ); $jv"
  echo "- command: \`benchmarks/mc_wide_cpu.sh $build $rounds $secs\` ($rounds rounds alternating, medians of replica-steps/s; training epochs: teacher and plasticity on, LE, t_pres 100; 784-... on 64 random samples, 9-30-3 on Bars; JAX shards the replica axis over one XLA CPU device per thread where the count divides)"
  echo
  echo "| dims | replicas | apical | JAX | numpy | apical / best peer |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for c in $cases; do
    dims=${c%%:*} reps=${c##*:}
    for r in ${reps//,/ }; do
      a=$(get "$dims" "$r" apical) j=$(get "$dims" "$r" jax) n=$(get "$dims" "$r" numpy)
      ratio=$(awk -v a="$a" -v j="$j" -v n="$n" 'BEGIN {b = (j > n) ? j : n; if (b > 0) printf "%.2fx", a / b; else print "-"}')
      echo "| ${dims//,/-} | $r | $(fmt "$a") | $(fmt "$j") | $(fmt "$n") | $ratio |"
    done
  done
  echo
  b1=$(get 9,30,3 1 apical) b1024=$(get 9,30,3 1024 apical)
  awk -v a="$b1" -v b="$b1024" 'BEGIN {if (a > 0 && b > 0) printf "Bars 9-30-3, apical: 1 replica reaches 1/%.0f of the replica-steps/s of 1024.\n", b / a}'
  echo
  echo "Rounds (dims, replicas, implementation, replica-steps/s):"
  echo
  sed 's/^/    /' "$tmp/all"
} >"$out"
cat "$out"
