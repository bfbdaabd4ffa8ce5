#!/usr/bin/env bash
# The virtual environment of the real-library pod suite (npm run test:pod): torch==2.13.0 (a CPU build
# where one is on disk) first, then exactly trainer-scripts/requirements.txt, with a constraints file that
# keeps torch at that version (plain `torch`, or a range admitting a newer one, would pull a CUDA build of
# several GB). Reused while its stamp (requirements.txt + torch pin + Python version) matches.
#
#   bash trainer-scripts/pod-venv.sh          # prints the venv's python on stdout; progress on stderr
#
# TRAINGATE_POD_VENV [<repo>/.cache/pod-venv] and TRAINGATE_POD_BASE_PYTHON [python3] override the defaults.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/.." && pwd)
venv=${TRAINGATE_POD_VENV:-$root/.cache/pod-venv}
base_python=${TRAINGATE_POD_BASE_PYTHON:-python3}
torch_pin="torch==2.13.0"
requirements="$here/requirements.txt"

if ! command -v "$base_python" >/dev/null 2>&1; then
  echo "pod-venv.sh: $base_python is required (apt-get install -y python3 python3-venv)" >&2
  exit 1
fi
if ! "$base_python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pod-venv.sh: Python's venv module is missing: apt-get install -y python3-venv" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; } >/dev/null 2>&1 || true
  fi
  if ! "$base_python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "pod-venv.sh: Python's venv module is missing: install it (apt-get install -y python3-venv)" >&2
    exit 1
  fi
fi

# One creator at a time (jest's pod spec and npm run test:pod may both ask for it).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

stamp=$({
  cat "$requirements"
  echo "$torch_pin"
  "$base_python" -c 'import sys; print(sys.version)'
} | sha256sum | cut -d' ' -f1)

if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.traingate-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "pod-venv.sh: reusing $venv" >&2
  echo "$venv/bin/python"
  exit 0
fi

start=$(date +%s)
echo "pod-venv.sh: creating $venv ($torch_pin, then $requirements)" >&2
rm -rf "$venv"
"$base_python" -m venv "$venv"
constraints="$venv/traingate-constraints.txt"
echo "$torch_pin" >"$constraints"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input install --quiet --constraint "$constraints")
"${pip[@]}" "$torch_pin" >&2
"${pip[@]}" -r "$requirements" >&2
installed=$("$venv/bin/python" -c 'import torch; print(torch.__version__)')
case "$installed" in
  2.13.0 | 2.13.0+*) ;;
  *)
    echo "pod-venv.sh: expected torch 2.13.0, the venv has $installed" >&2
    exit 1
    ;;
esac
echo "$stamp" >"$venv/.traingate-stamp"
echo "pod-venv.sh: created in $(($(date +%s) - start)) s (torch $installed)" >&2
echo "$venv/bin/python"
