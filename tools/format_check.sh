#!/bin/bash
# Whether every tracked C and CUDA file (.c .h .cu .cuh) is formatted as .clang-format says.
# CI runs it (.ci/run installs Debian bookworm's clang-format, version 14). Another major
# version formats some constructs differently, so the check asks for 14 and refuses to judge
# with another (exit 2) rather than disagree with CI.
#   tools/format_check.sh          check: exit 1 and, per file, the diff that would format it
#   tools/format_check.sh --fix    format them in place (CLANG_FORMAT=PROGRAM: which one)
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then
      cf=$c
      break
    fi
  done
fi
if [ -z "$cf" ] || ! command -v "$cf" >/dev/null 2>&1; then
  echo "format_check: no clang-format ${cf:+($cf) }(Debian: apt-get install clang-format)"
  exit 2
fi
major=$("$cf" --version | sed -n 's/.*clang-format version \([0-9]*\).*/\1/p')
if [ "$major" != 14 ]; then
  echo "format_check: $cf is version ${major:-unknown}, not 14 (Debian bookworm's, which CI uses)"
  exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cu' '*.cuh')
if [ ${#files[@]} -eq 0 ]; then
  echo "format_check: no tracked C or CUDA files (not a git checkout?)"
  exit 2
fi
if [ "${1:-}" = --fix ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
    [ $bad = 1 ] || echo "format_check: not formatted as .clang-format says (tools/format_check.sh --fix formats them):"
    bad=1
    { "$cf" "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" - || true; } | head -40 | sed 's/^/  /'
  fi
done
[ $bad = 1 ] && exit 1
echo "format_check: ${#files[@]} files formatted as .clang-format says ($cf, version $major)"
