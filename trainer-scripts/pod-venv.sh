#!/usr/bin/env bash
# The virtual environment of the real-library pod suite (npm run test:pod): torch==2.13.0 (a CPU build
# where one is on disk) first, then exactly trainer-scripts/requirements.txt, with a constraints file that
# keeps torch at that version (plain `torch`, or a range admitting a newer one, would pull a CUDA build of
# several GB). Which torch build pip installs is pip's choice from its index: on Linux, PyPI's is the CUDA one;
# PIP_INDEX_URL=https://download.pytorch.org/whl/cpu PIP_EXTRA_INDEX_URL=https://pypi.org/simple gives the CPU one.
# Reused while its stamp (requirements.txt + torch pin + Python version) matches and, when PIP_INDEX_URL or
# PIP_EXTRA_INDEX_URL is set, they are the ones it was built with (recorded as a hash: a URL may hold a password);
# otherwise it is built again. Delete the venv folder to rebuild it for any other reason (a pip.conf change).
#
#   bash trainer-scripts/pod-venv.sh          # prints the venv's python on stdout; progress on stderr
#
# TRAINGATE_POD_VENV [<repo>/.cache/pod-venv] and TRAINGATE_POD_BASE_PYTHON [python3] override the defaults.
# Runs on Linux and macOS: sha256sum or shasum; flock where there is one (macOS has none: then nothing keeps two
# concurrent first runs apart).
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

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum | cut -d' ' -f1
  else
    shasum -a 256 | cut -d' ' -f1
  fi
}

# One creator at a time (jest's pod spec and npm run test:pod may both ask for it).
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv.lock"
  flock 9
fi

stamp=$({
  cat "$requirements"
  echo "$torch_pin"
  "$base_python" -c 'import sys; print(sys.version)'
} | sha256)
index=$(printf 'PIP_INDEX_URL=%s\nPIP_EXTRA_INDEX_URL=%s\n' "${PIP_INDEX_URL:-}" "${PIP_EXTRA_INDEX_URL:-}" | sha256)

if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.traingate-stamp" 2>/dev/null)" = "$stamp" ]; then
  if [ -z "${PIP_INDEX_URL:-}${PIP_EXTRA_INDEX_URL:-}" ] || [ "$(cat "$venv/.traingate-index" 2>/dev/null)" = "$index" ]; then
    echo "pod-venv.sh: reusing $venv" >&2
    echo "$venv/bin/python"
    exit 0
  fi
  echo "pod-venv.sh: $venv was built from another pip index than PIP_INDEX_URL/PIP_EXTRA_INDEX_URL name: rebuilding" >&2
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
torch_build=$("$venv/bin/python" -c 'import torch; print(torch.__version__, torch.version.cuda or "none")')
installed=${torch_build% *}
cuda=${torch_build##* }
case "$installed" in
  2.13.0 | 2.13.0+*) ;;
  *)
    echo "pod-venv.sh: expected torch 2.13.0, the venv has $installed" >&2
    exit 1
    ;;
esac
echo "$index" >"$venv/.traingate-index"
echo "$stamp" >"$venv/.traingate-stamp"
echo "pod-venv.sh: created in $(($(date +%s) - start)) s (torch $installed)" >&2
if [ "$cuda" != none ]; then
  echo "pod-venv.sh: this torch is a CUDA $cuda build; without a GPU the CPU build is enough and much smaller:" \
    "rm -rf $venv and run again with PIP_INDEX_URL=https://download.pytorch.org/whl/cpu" \
    "PIP_EXTRA_INDEX_URL=https://pypi.org/simple" >&2
fi
echo "$venv/bin/python"
