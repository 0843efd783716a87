#!/bin/bash
# Bars 9-30-3 on the CPU against JAX at 1 and 1024 replicas, for one or more builds side by
# side (e.g. this commit's and an earlier one's, to show a change): training replica-steps
# per second (LE, t_pres 100) of bench_mc with every core (the default) and with --threads 1,
# and of benchmarks/compare/bars_jax.py on every core, rounds alternating, medians, and the
# load (uptime) before and after.
#   benchmarks/bars_jax_cpu.sh [ROUNDS] [SECONDS] [BUILD_DIR...]   (default: 3, 2, build)
# JAX: bash benchmarks/compare/setup_venv.sh (benchmarks/.venv). Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} secs=${2:-2}
shift $(($# > 2 ? 2 : $#))
builds=("$@")
((${#builds[@]})) || builds=(build)
py=benchmarks/.venv/bin/python
"$py" -c 'import jax' >/dev/null 2>&1 || { echo "bars_jax_cpu: no jax in $py (benchmarks/compare/setup_venv.sh)" >&2; exit 1; }
all=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load0=$(uptime)
for ((i = 0; i < rounds; i++)); do
  # columns: what replicas threads replica-steps/s
  for b in "${builds[@]}"; do
    for t in "$all" 1; do
      "$b/benchmarks/bench_mc" --replicas 1,1024 --seconds "$secs" --threads "$t" |
        awk -v b="$b" -v t="$t" '$1 ~ /^[0-9]+$/ {print b, $1, t, $4}' >>"$tmp/all"
    done
  done
  "$py" benchmarks/compare/bars_jax.py --replicas 1,1024 --seconds "$secs" --threads "$all" 2>/dev/null |
    awk -v t="$all" '$1 ~ /^[0-9]+$/ {print "JAX", $1, t, $4}' >>"$tmp/all"
  echo -n "." >&2
done
echo >&2
load1=$(uptime)
med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
get() { awk -v w="$1" -v r="$2" -v t="$3" '$1 == w && $2 == r && $3 == t {print $4}' "$tmp/all" | med; }
echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $all cores; $("$py" -c 'import jax; print("jax", jax.__version__)' 2>/dev/null)"
echo "- load before: \`${load0#*load }\`; after: \`${load1#*load }\`"
echo "- command: \`benchmarks/bars_jax_cpu.sh $rounds $secs ${builds[*]}\` ($rounds rounds alternating, medians of replica-steps/s; JAX on $all threads, replicas sharded over $all XLA CPU devices)"
echo
echo "| replicas | JAX ($all threads) | build | apical ($all threads) | apical / JAX | apical (--threads 1) | --threads 1 / JAX |"
echo "| ---: | ---: | --- | ---: | ---: | ---: | ---: |"
for r in 1 1024; do
  j=$(get JAX "$r" "$all")
  for b in "${builds[@]}"; do
    a=$(get "$b" "$r" "$all") a1=$(get "$b" "$r" 1)
    awk -v r="$r" -v j="$j" -v b="$b" -v a="$a" -v a1="$a1" \
      'BEGIN {printf "| %d | %.3g | %s | %.3g | %.2fx | %.3g | %.2fx |\n", r, j, b, a, a / j, a1, a1 / j}'
  done
done
echo
echo "Runs (what, replicas, threads, replica-steps/s):"
echo
sed 's/^/    /' "$tmp/all"
