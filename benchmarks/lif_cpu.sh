#!/bin/bash
# The LIF-STDP network (lif_stdp, MODELS.md §3) on the CPU against NEST, one network on 1, 2,
# ... threads, side by side on the same machine: the network of experiments/topdown_stdp.ini
# (2400 neurons: populations of 320 Pyr / 80 PV) and one twice as large (640 / 160, 4800
# neurons), top-down on, alpha PSCs, STDP on. apical splits one network over a team of
# threads where it has enough neurons (kernels/lif/ls_cpu.c's team rule; the team it ran
# is printed), guarded: where the team measures slower than a thread (its barriers wait for
# threads that other processes keep from their cores) it runs on one; "team only" rows
# (--cpu-kernel team) time the team without the guard. NEST runs it on local_num_threads. Rounds alternate apical and NEST, every
# thread count and size, so that drift and other load hit all alike; medians. The machine's
# load (uptime) is recorded before and after.
#   benchmarks/lif_cpu.sh [BUILD_DIR] [ROUNDS] [SIM_SECONDS] [THREADS]
#   (default: build, 3, 1, "1 2"; e.g. THREADS "1 2 4 8 16" on a larger machine)
# Writes benchmarks/results/cpu-lif-threads-DATE-COMMIT.md and prints it.
# NEST: bash benchmarks/compare/setup_nest_venv.sh (benchmarks/.venv-nest); left out
# without it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/record_lib.sh
source benchmarks/record_lib.sh
build=${1:-build} rounds=${2:-3} secs=${3:-1} threads_list=${4:-"1 2"}
bench=$build/benchmarks/bench_ls
py=benchmarks/.venv-nest/bin/python
[ -x "$bench" ] || { echo "lif_cpu: no $bench; build first (README)"; exit 1; }
nest=1
"$py" -c 'import nest' >/dev/null 2>&1 || { nest=0; echo "lif_cpu: no NEST in $py; apical only" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ms=$(awk -v s="$secs" 'BEGIN {print s * 1000}')
sizes=("320 80" "640 160")
load0=$(uptime)
for ((i = 0; i < rounds; i++)); do
  for size in "${sizes[@]}"; do
    read -r np nv <<<"$size"
    n=$((6 * np + 6 * nv))
    for t in $threads_list; do
      # columns: what neurons threads sim_s/wall_s events/s
      "$bench" --replicas 1 --seconds "$secs" --threads "$t" --n-pyr "$np" --n-pv "$nv" >"$tmp/a.txt"
      awk -v n="$n" -v t="$t" '$1 ~ /^[0-9]+$/ {print "apical", n, t, $4, $6}' "$tmp/a.txt" >>"$tmp/all"
      sed -n 's/^# 1 replica: //p' "$tmp/a.txt" | sed "s/^/$n $t /" >>"$tmp/how"
      if [ "$t" -gt 1 ]; then # the team alone, without the guard that falls back to a thread
        "$bench" --replicas 1 --seconds "$secs" --threads "$t" --n-pyr "$np" --n-pv "$nv" \
          --cpu-kernel team | awk -v n="$n" -v t="$t" '$1 ~ /^[0-9]+$/ {print "team", n, t, $4, $6}' >>"$tmp/all"
      fi
      echo -n "." >&2
      if [ "$nest" = 1 ]; then
        "$py" benchmarks/compare/lif_nest.py --speed --duration "$ms" --threads "$t" \
          --n-pyr "$np" --n-pv "$nv" >"$tmp/nest.txt" 2>&1
        awk -v n="$n" -v t="$t" '
          /simulated s per wall s/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "simulated") s = $i}
          /per wall s/ && /synaptic events/ {e = $(NF - 3)}
          END {print "NEST", n, t, s, e}' "$tmp/nest.txt" >>"$tmp/all"
        echo -n "." >&2
      fi
    done
  done
done
echo >&2
load1=$(uptime)
get() { awk -v w="$1" -v n="$2" -v t="$3" -v c="$4" '$1 == w && $2 == n && $3 == t {print $c}' "$tmp/all" | median; }
nv=$([ "$nest" = 1 ] && "$py" -c 'import nest; print(nest.__version__)' 2>/dev/null | tail -1 || echo "-")
out=benchmarks/results/cpu-lif-threads-$(date -u +%F)-$commit.md
{
  echo "# One LIF-STDP network on 1 to N threads: apical against NEST"
  echo
  echo "- machine: $cpu_name, $(nproc) cores; load before: \`${load0#*load }\`, after: \`${load1#*load }\`"
  echo "- commit: $commit$dirty; $(date -u +%FT%TZ); NEST $nv"
  echo "- command: \`benchmarks/lif_cpu.sh $build $rounds $secs \"$threads_list\"\` ($rounds rounds, every row once per round in turn, medians; $secs s simulated per run, one network, top-down on, alpha PSCs, STDP on; apical: $bench --replicas 1 --threads T --n-pyr P --n-pv V, after 0.1 s of warm-up; NEST: benchmarks/compare/lif_nest.py --speed --threads T --n-pyr P --n-pv V, one Simulate call, no weight reading)"
  echo "- synaptic events: every spike times its neuron's recurrent out-degree (Poisson inputs not counted), the same count on both sides"
  echo
  echo "Simulated seconds per wall second. apical: the default (auto: the team where the rule splits the network, guarded: a thread each where that measures faster); team only: --cpu-kernel team, every record on the team."
  echo
  echo "| neurons | threads | NEST | apical | apical, team only | apical / NEST | NEST speed-up over 1 thread | apical speed-up over 1 thread | team only, speed-up | apical's team rule |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for size in "${sizes[@]}"; do
    read -r np nv <<<"$size"
    n=$((6 * np + 6 * nv))
    a1=$(get apical "$n" 1 4) n1=$([ "$nest" = 1 ] && get NEST "$n" 1 4 || echo 0)
    for t in $threads_list; do
      a=$(get apical "$n" "$t" 4) s=$([ "$nest" = 1 ] && get NEST "$n" "$t" 4 || echo 0)
      tm=$([ "$t" -gt 1 ] && get team "$n" "$t" 4 || echo "$a")
      how=$(awk -v n="$n" -v t="$t" '$1 == n && $2 == t {$1 = $2 = ""; sub(/^ +/, ""); print; exit}' "$tmp/how" |
        sed 's/.*), //')
      awk -v n="$n" -v t="$t" -v a="$a" -v tm="$tm" -v s="$s" -v a1="$a1" -v n1="$n1" -v how="$how" 'BEGIN {
        printf "| %d | %d | %s | %.3g | %.3g | %s | %s | %.2fx | %.2fx | %s |\n", n, t,
          (s > 0 ? sprintf("%.3g", s) : "-"), a, tm, (s > 0 ? sprintf("%.1fx", a / s) : "-"),
          (s > 0 && n1 > 0 ? sprintf("%.2fx", s / n1) : "-"), a / a1, tm / a1, how}'
    done
  done
  echo
  echo "Runs (what (team: --cpu-kernel team), neurons, threads, simulated s / wall s, synaptic events / wall s):"
  echo
  sed 's/^/    /' "$tmp/all"
} >"$out"
cat "$out"
