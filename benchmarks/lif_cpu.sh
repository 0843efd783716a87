#!/bin/bash
# The LIF-STDP network (lif_stdp, MODELS.md §3) on the CPU against NEST with one thread,
# side by side in one run: the full network (2400 neurons, top-down on, alpha PSCs),
# simulated seconds per wall second and recurrent synaptic events per wall second, for
# one replica on one thread (the comparison per replica: NEST runs one network on one
# thread) and for 20 replicas (10 seeds x 2, the study's batch) on every thread; rounds
# alternate apical and NEST so that drift hits both. Medians. Writes
# benchmarks/results/cpu-lif-DATE-COMMIT.md.
#   benchmarks/lif_cpu.sh [BUILD_DIR] [ROUNDS] [SIM_SECONDS]     (default: build, 3, 10)
# NEST: bash benchmarks/compare/setup_nest_venv.sh (benchmarks/.venv-nest); left out
# without it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/record_lib.sh
source benchmarks/record_lib.sh
build=${1:-build} rounds=${2:-3} secs=${3:-10}
bench=$build/benchmarks/bench_ls
py=benchmarks/.venv-nest/bin/python
[ -x "$bench" ] || { echo "lif_cpu: no $bench; build first (README)"; exit 1; }
nest=1
"$py" -c 'import nest' >/dev/null 2>&1 || { nest=0; echo "lif_cpu: no NEST in $py; apical only" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=$(nproc)
ms=$(awk -v s="$secs" 'BEGIN {print s * 1000}')
for ((i = 0; i < rounds; i++)); do
  # columns: what replicas threads sim_s/wall_s events/s
  "$bench" --replicas 1 --seconds "$secs" --threads 1 |
    awk '$1 ~ /^[0-9]+$/ {print "apical", $1, 1, $4, $6}' >>"$tmp/all"
  "$bench" --replicas 20 --seconds "$secs" --threads "$threads" |
    awk -v t="$threads" '$1 ~ /^[0-9]+$/ {print "apical", $1, t, $4, $6}' >>"$tmp/all"
  echo -n "." >&2
  if [ "$nest" = 1 ]; then
    "$py" benchmarks/compare/lif_nest.py --speed --duration "$ms" --threads 1 >"$tmp/nest.txt" 2>&1
    awk '/simulated s per wall s/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "simulated") s = $i}
         /per wall s/ && /synaptic events/ {e = $(NF - 3)}
         END {print "NEST", 1, 1, s, e}' "$tmp/nest.txt" >>"$tmp/all"
    echo -n "." >&2
  fi
done
echo >&2
get() { awk -v w="$1" -v r="$2" -v c="$3" '$1 == w && $2 == r {print $c}' "$tmp/all" | median; }
a1=$(get apical 1 4) a1e=$(get apical 1 5) a20=$(get apical 20 4) a20e=$(get apical 20 5)
n1=$([ "$nest" = 1 ] && get NEST 1 4 || echo "") n1e=$([ "$nest" = 1 ] && get NEST 1 5 || echo "")
nv=$([ "$nest" = 1 ] && "$py" -c 'import nest; print(nest.__version__)' 2>/dev/null | tail -1 || echo "-")
out=benchmarks/results/cpu-lif-$(date -u +%F)-$commit.md
{
  echo "# LIF assemblies with STDP on the CPU: apical against NEST"
  echo
  echo "- machine: $cpu_name, $(nproc) cores"
  echo "- commit: $commit$dirty; $(date -u +%FT%TZ); NEST $nv"
  echo "- command: \`benchmarks/lif_cpu.sh $build $rounds $secs\` ($rounds rounds alternating, medians; $secs s simulated per run, 2400 neurons, top-down on, alpha PSCs, STDP on; apical: build/benchmarks/bench_ls, after 0.1 s of warm-up; NEST: benchmarks/compare/lif_nest.py --speed, one Simulate call, no weight reading)"
  echo "- synaptic events: every spike times its neuron's recurrent out-degree (Poisson inputs not counted), the same count on both sides"
  echo
  echo "| | replicas | threads | simulated s / wall s (all replicas) | per replica and thread | synaptic events / wall s | apical / NEST per replica and thread |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  row() { # what replicas threads sims events
    local per ratio
    per=$(awk -v s="$4" -v r="$2" -v t="$3" 'BEGIN {printf "%.3g", s / t}')
    ratio=$(awk -v s="$4" -v t="$3" -v n="$n1" 'BEGIN {if (n > 0) printf "%.1fx", s / t / n; else print "-"}')
    printf '| %s | %s | %s | %.3g | %s | %.3g | %s |\n' "$1" "$2" "$3" "$4" "$per" "$5" "$ratio"
  }
  [ "$nest" = 1 ] && row NEST 1 1 "$n1" "$n1e"
  row apical 1 1 "$a1" "$a1e"
  row apical 20 "$threads" "$a20" "$a20e"
  echo
  echo "Rounds (what, replicas, threads, simulated s / wall s, events / s):"
  echo
  sed 's/^/    /' "$tmp/all"
} >"$out"
cat "$out"
