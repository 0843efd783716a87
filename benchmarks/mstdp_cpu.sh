#!/bin/bash
# MSTDP iterations per second on the CPU against PyTorch, side by side in one run:
# 784 + 10 visible units, 256 and 2048 hidden, 1 and 8 replicas, clamped iterations with
# learning and free ones without; apical's two CPU kernels (fused, and blas where the
# build has OpenBLAS) against benchmarks/compare/mstdp_torch.py in both of
# its mat-vec layouts, alternating round by round so that drift hits all alike. Medians;
# from them, the projected wall time of the paper's protocol (500,000 presentations of
# 10 x (32 clamped + 32 free) iterations, 2048 hidden, one network). Writes
# benchmarks/results/cpu-mstdp-DATE-COMMIT.md.
#   benchmarks/mstdp_cpu.sh [BUILD_DIR] [ROUNDS] [SECONDS]     (default: build, 3, 2)
# PyTorch: bash benchmarks/compare/setup_venv.sh (benchmarks/.venv); left out without it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/record_lib.sh
source benchmarks/record_lib.sh
build=${1:-build} rounds=${2:-3} secs=${3:-2}
bench=$build/benchmarks/bench_ms
py=benchmarks/.venv/bin/python
[ -x "$bench" ] || { echo "mstdp_cpu: no $bench; build first (README)"; exit 1; }
blas=""
"$bench" --hidden 16 --replicas 1 --seconds 0.01 --blas >/dev/null 2>&1 && blas="--blas"
torch=1
"$py" -c 'import torch' 2>/dev/null || { torch=0; echo "mstdp_cpu: no torch in $py; apical only" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=$(nproc)
for ((i = 0; i < rounds; i++)); do
  # columns: hidden replicas implementation kind iterations/s
  "$bench" --hidden 256,2048 --replicas 1,8 --seconds "$secs" --threads "$threads" $blas |
    awk '$1 ~ /^[0-9]+$/ {print $1, $2, "apical-" $3, $4, $7}' >>"$tmp/all"
  echo -n "." >&2
  if [ "$torch" = 1 ]; then
    for layout in col row; do
      "$py" benchmarks/compare/mstdp_torch.py --hidden 256,2048 --replicas 1,8 --seconds "$secs" \
        --threads "$threads" --matvec "$layout" |
        awk -v l="$layout" '$1 ~ /^[0-9]+$/ {print $1, $2, "torch-" l, $3, $6}' >>"$tmp/all"
      echo -n "." >&2
    done
  fi
done
echo >&2
get() { awk -v h="$1" -v r="$2" -v i="$3" -v k="$4" '$1 == h && $2 == r && $3 == i && $4 == k {print $5}' "$tmp/all" | median; }
impls=$(awk '{print $3}' "$tmp/all" | sort -u)
tv=$([ "$torch" = 1 ] && "$py" -c 'import torch; print(torch.__version__)' || echo "-")
out=benchmarks/results/cpu-mstdp-$(date -u +%F)-$commit.md
{
  echo "# MSTDP relaxation on the CPU: apical against PyTorch"
  echo
  echo "- machine: $cpu_name, $(nproc) cores, $threads threads"
  echo "- commit: $commit$dirty; $(date -u +%FT%TZ); torch $tv"
  echo "- command: \`benchmarks/mstdp_cpu.sh $build $rounds $secs\` (784 + 10 visible; $rounds rounds alternating, medians of iterations/s, one iteration = every replica one step)"
  echo "- apical-fused: the default CPU kernel (ms_body.h, bit-identical everywhere); apical-blas: --cpu-kernel blas, the row pass with OpenBLAS sger/sgemv (close, not bit-identical); torch-col / torch-row: mstdp_torch.py with W @ r or r @ W^T batched mat-vecs (torch.baddbmm)"
  echo
  echo "| hidden | replicas | kind | $(echo "$impls" | tr '\n' '|' | sed 's/|$//; s/|/ | /g') | apical-fused / best torch |"
  echo "| ---: | ---: | --- |$(echo "$impls" | sed 's/.*/ ---: |/' | tr -d '\n') ---: |"
  for h in 256 2048; do
    for r in 1 8; do
      for k in learn free; do
        row="| $h | $r | $k |"
        best=0
        for i in $impls; do
          m=$(get "$h" "$r" "$i" "$k")
          row="$row $(awk -v m="$m" 'BEGIN {printf "%.3g", m}') |"
          case $i in torch-*) best=$(awk -v a="$best" -v b="$m" 'BEGIN {print (b > a) ? b : a}') ;; esac
        done
        f=$(get "$h" "$r" apical-fused "$k")
        ratio=$(awk -v f="$f" -v b="$best" 'BEGIN {if (b > 0) printf "%.1fx", f / b; else print "-"}')
        echo "$row $ratio |"
      done
    done
  done
  echo
  echo "Projected wall time of the paper's protocol (2048 hidden, one network, 500,000 presentations x 10 x (32 + 32) iterations; read-outs not counted), from the 1-replica medians:"
  echo
  for i in $impls; do
    l=$(get 2048 1 "$i" learn) f=$(get 2048 1 "$i" free)
    awk -v i="$i" -v l="$l" -v f="$f" 'BEGIN {
      s = 500000 * 320 * (1 / l + 1 / f); printf "- %s: %.3g s = %.1f days\n", i, s, s / 86400 }'
  done
} >"$out"
cat "$out"
echo "written: $out" >&2
