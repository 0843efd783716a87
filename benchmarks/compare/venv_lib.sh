# Sourced by the setup_*venv.sh scripts: make_venv DIR NAME creates the venv DIR (once)
# with a Debian-or-pyenv python3 that has the venv and ensurepip modules; NAME is the
# calling script's, for its messages.
make_venv() {
  local venv=$1 name=$2 py=""
  [ -x "$venv/bin/python" ] && return 0
  for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      py=$cand
      break
    fi
  done
  if [ -z "$py" ]; then
    echo "$name: no python3 with the venv/ensurepip modules (apt-get install python3-venv)" >&2
    exit 1
  fi
  echo "$name: creating $venv with $py" >&2
  "$py" -m venv "$venv"
}
