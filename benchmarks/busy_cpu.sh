#!/bin/bash
# Each model's small study on a busy machine: one core kept busy by a busy loop (`sh -c
# 'while :; do :; done'`) while the study runs with --threads 1 and with the default (every
# core), rounds alternating, medians. A replica too small to split runs on one thread
# whatever --threads says (the team rules in kernels/*/..._cpu.c, mc_wide.c), so the
# default should lose nothing against --threads 1; a replica large enough to be split
# waits at every barrier for a thread that shares its core with the loop. Give a second
# build directory (e.g. one of an earlier commit) to put its numbers beside.
#   benchmarks/busy_cpu.sh [ROUNDS] [SECONDS] [BUILD_DIR...]   (default: 3, 1, build)
# Prints a markdown table (rates: replica-steps/s for the microcircuit, learning iterations/s
# for MSTDP, simulated s / wall s for LIF) and the load (uptime) before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} secs=${2:-1}
shift $(($# > 2 ? 2 : $#))
builds=("$@")
((${#builds[@]})) || builds=(build)
all=$(nproc)
tmp=$(mktemp -d)
busy=""
cleanup() {
  [ -n "$busy" ] && kill "$busy" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# label | command (T: the threads) | awk program printing the rate
cases=(
  "microcircuit Bars 9-30-3, 1 replica|benchmarks/bench_mc --replicas 1 --seconds $secs --threads T|/^ +1 /{print \$4}"
  "microcircuit 784-100-10, 1 replica|benchmarks/bench_mc --replicas 1 --dims 784,100,10 --seconds $secs --threads T|/^ +1 /{print \$4}"
  "mstdp 256 hidden, 1 replica|benchmarks/bench_ms --hidden 256 --replicas 1 --seconds $secs --threads T|\$4 == \"learn\"{print \$8}"
  "lif_stdp 600 neurons, 1 replica|benchmarks/bench_ls --replicas 1 --n-pyr 40 --n-pv 10 --seconds $secs --threads T|/^ +1 /{print \$4}"
  "lif_stdp 2400 neurons, 1 replica|benchmarks/bench_ls --replicas 1 --seconds $secs --threads T|/^ +1 /{print \$4}"
)
load0=$(uptime)
sh -c 'while :; do :; done' &
busy=$!
for ((i = 0; i < rounds; i++)); do
  for b in "${builds[@]}"; do
    for c in "${cases[@]}"; do
      IFS='|' read -r label cmd prog <<<"$c"
      for t in 1 "$all"; do
        rate=$($b/${cmd//T/$t} 2>/dev/null | awk "$prog" | tail -1 || true)
        echo "$b|$label|$t|${rate:-nan}" >>"$tmp/all"
        echo -n "." >&2
      done
    done
  done
done
kill "$busy"
busy=""
echo >&2
load1=$(uptime)
med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $all cores; a busy loop on one core throughout"
echo "- load before: \`${load0#*load }\`; after: \`${load1#*load }\`"
echo "- command: \`benchmarks/busy_cpu.sh $rounds $secs ${builds[*]}\` ($rounds rounds alternating, medians, $secs s a run)"
echo
echo "| study | build | --threads 1 | default ($all threads) | default / --threads 1 |"
echo "| --- | --- | ---: | ---: | ---: |"
for c in "${cases[@]}"; do
  IFS='|' read -r label cmd prog <<<"$c"
  for b in "${builds[@]}"; do
    one=$(awk -F'|' -v b="$b" -v l="$label" '$1 == b && $2 == l && $3 == 1 {print $4}' "$tmp/all" | med)
    def=$(awk -F'|' -v b="$b" -v l="$label" -v t="$all" '$1 == b && $2 == l && $3 == t {print $4}' "$tmp/all" | med)
    awk -v l="$label" -v b="$b" -v o="$one" -v d="$def" \
      'BEGIN {printf "| %s | %s | %.3g | %.3g | %.2f |\n", l, b, o, d, (o > 0 ? d / o : 0)}'
  done
done
echo
echo "Runs (build | study | threads | rate):"
echo
sed 's/^/    /' "$tmp/all"
