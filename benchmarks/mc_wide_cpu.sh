#!/bin/bash
# The microcircuit where replicas are few and layers wide (issue 15's benchmark): training
# replica-steps per second of 784-100-10 and 784-500-10 at 1, 4 and 16 replicas (64 random
# samples, LE, t_pres 100) and of Bars 9-30-3 at 1 and 1024 replicas, apical (bench_mc,
# both CPU kernels: lanes and wide; auto is the one mc_wide_pick takes) beside the same
# network batched in JAX and numpy (benchmarks/compare/bars_jax.py and bars_numpy.py
# --dims), rounds alternating, medians. Writes
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
    for k in lanes wide; do
      "$bench" --dims "$dims" --replicas "$reps" --seconds "$secs" --threads "$threads" \
        --cpu-kernel $k | awk -v d="$dims" -v k="$k" '$1 ~ /^[0-9]+$/ {print d, $1, k, $4}' >>"$tmp/all"
    done
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
  echo "| dims | replicas | apical lanes | apical wide | auto takes | JAX | numpy | auto / best peer |"
  echo "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
  for c in $cases; do
    dims=${c%%:*} reps=${c##*:}
    for r in ${reps//,/ }; do
      l=$(get "$dims" "$r" lanes) w=$(get "$dims" "$r" wide) j=$(get "$dims" "$r" jax) n=$(get "$dims" "$r" numpy)
      # mc_wide_pick: wide for a layer of 64+ inputs, or fewer than 4 replicas
      auto=$(awk -v d="$dims" -v r="$r" 'BEGIN {n = split(d, x, ","); w = 0; for (i = 1; i < n; i++) if (x[i] >= 64) w = 1; print (w || r < 4) ? "wide" : "lanes"}')
      a=$([ "$auto" = wide ] && echo "$w" || echo "$l")
      ratio=$(awk -v a="$a" -v j="$j" -v n="$n" 'BEGIN {b = (j > n) ? j : n; if (b > 0) printf "%.2fx", a / b; else print "-"}')
      echo "| ${dims//,/-} | $r | $(fmt "$l") | $(fmt "$w") | $auto | $(fmt "$j") | $(fmt "$n") | $ratio |"
    done
  done
  echo
  b1=$(get 9,30,3 1 wide) b1024=$(get 9,30,3 1024 lanes)
  awk -v a="$b1" -v b="$b1024" 'BEGIN {if (a > 0 && b > 0) printf "Bars 9-30-3, apical auto: 1 replica (wide) reaches 1/%.1f of the replica-steps/s of 1024 (lanes).\n", b / a}'
  echo
  echo "Rounds (dims, replicas, implementation, replica-steps/s):"
  echo
  sed 's/^/    /' "$tmp/all"
} >"$out"
cat "$out"
