#!/usr/bin/env bash
# Checks everything under trainer-scripts/: shellcheck, a compile of every Python file, and the
# unittest suite. Runs from any directory; needs bash, python3 (3.9+), curl and shellcheck.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "run-tests.sh: shellcheck is required (apt-get install -y shellcheck)" >&2
  exit 1
fi
shellcheck "$here"/*.sh

# Compile into a scratch folder so that no __pycache__ lands in the work tree.
PYTHONDONTWRITEBYTECODE=1 python3 - "$here" <<'PY'
import glob
import os
import py_compile
import sys
import tempfile

here = sys.argv[1]
files = sorted(glob.glob(os.path.join(here, "*.py")) + glob.glob(os.path.join(here, "tests", "*.py")))
with tempfile.TemporaryDirectory() as scratch:
    for number, path in enumerate(files):
        py_compile.compile(path, cfile=os.path.join(scratch, f"{number}.pyc"), doraise=True)
print(f"py_compile: {len(files)} files OK")
PY

# The last line is "N passed, N failed" so that any CI reads the counts.
cd -- "$here"
PYTHONDONTWRITEBYTECODE=1 python3 - <<'PY'
import sys
import time
import unittest

start = time.monotonic()
suite = unittest.defaultTestLoader.discover("tests", top_level_dir=".")
result = unittest.TextTestRunner(verbosity=1).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
print(f"trainer-scripts: suite took {time.monotonic() - start:.1f}s")
print(f"trainer-scripts: {passed} passed, {failed} failed")
if result.skipped:
    print(f"trainer-scripts: {len(result.skipped)} skipped tests are not allowed", file=sys.stderr)
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 and not result.skipped else 1)
PY
