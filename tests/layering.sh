#!/bin/bash
# The layering of shared/DESIGN.md, checked on the sources: host/ knows models only through
# kernels/model.h (it names no model's type or function), a model knows no other model,
# datasets/ include only kernels/core/, kernels/core/ includes nothing else of apical, and
# configuration reaches kernels as arguments (no getenv under kernels/).
# A model is a folder kernels/NAME/ whose files share one prefix (mc_cpu.c, mc_body.h: mc);
# its names are that prefix's: mc_step, MC_LN, McParams. Names after a '/' are file paths
# (comments may point at a model's file).
set -u
cd "$(dirname "$0")/.."
bad=0
check() { # message, then a grep that must find nothing
  local msg=$1
  shift
  local hits
  hits=$("$@" 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layering: $msg:"
    echo "$hits" | sed 's/^/  /'
    bad=1
  fi
}
# each model's prefix, from its folder
models=()
for dir in kernels/*/; do
  name=$(basename "$dir")
  [ "$name" = core ] && continue
  prefix=$(ls "$dir" | sed -n 's/^\([a-z][a-z0-9]*\)_.*/\1/p' | sort -u)
  if [ "$(echo "$prefix" | wc -w)" -ne 1 ] || ls "$dir" | grep -qv "^${prefix}_"; then
    echo "layering: the files of kernels/$name/ do not share one prefix:" $(ls "$dir")
    bad=1
    continue
  fi
  models+=("$name:$prefix")
done
[ ${#models[@]} -gt 0 ] || { echo "layering: no model folder under kernels/"; bad=1; }
names() { # an ERE for the names of prefix $1 (ls: ls_, LS_, Ls + capital), not after a '/'
  local upper=${1^^}
  echo "(^|[^/[:alnum:]_])(${1}_|${upper}_|${1^}[A-Z])"
}
for m in "${models[@]}"; do
  name=${m%%:*}
  re=$(names "${m#*:}")
  check "host/ names the model of kernels/$name" grep -rnE "$re" host/
  check "datasets/, kernels/core/ or the model interface name the model of kernels/$name" \
    grep -rnE "$re" datasets/ kernels/core/ kernels/model.h kernels/backend.h kernels/backend.c \
    kernels/backend_cuda.cu kernels/backend_cuda.cuh
  for other in "${models[@]}"; do
    [ "$other" = "$m" ] && continue
    check "kernels/${other%%:*}/ names the model of kernels/$name" grep -rnE "$re" "kernels/${other%%:*}/"
  done
done
check "datasets/ include more than kernels/core/" \
  sh -c "grep -rn '#include \"' datasets/ | grep -v '\"[a-z_]*\\.h\"' | grep -v 'kernels/core/'"
check "kernels/core/ includes other apical headers" \
  sh -c "grep -rn '#include \"' kernels/core/ | grep -E '\"\\.\\./|\"[a-z]+/'"
check "kernels/ read the environment" grep -rn 'getenv' kernels/
exit $bad
