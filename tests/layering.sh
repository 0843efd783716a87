#!/bin/bash
# The layering of shared/DESIGN.md, checked on the sources: host/ knows models only through
# kernels/model.h (it names no microcircuit type or function), datasets/ include only
# kernels/core/, kernels/core/ includes nothing else of apical, and configuration reaches
# kernels as arguments (no getenv under kernels/).
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
check "host/ names the microcircuit" grep -rnE 'Mc[A-Z]|\bmc_|\bMC_' host/
check "datasets/ include more than kernels/core/" \
  sh -c "grep -rn '#include \"' datasets/ | grep -v '\"[a-z_]*\\.h\"' | grep -v 'kernels/core/'"
check "kernels/core/ includes other apical headers" \
  sh -c "grep -rn '#include \"' kernels/core/ | grep -E '\"\\.\\./|\"[a-z]+/'"
check "kernels/ read the environment" grep -rn 'getenv' kernels/
exit $bad
