#!/usr/bin/env bash
# Rewrite constraints.txt from what is installed now: run after `make install` resolved new versions
# (e.g. `pip install -U <pkg>` on purpose) and `make test` passed with them. `make lock` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
{
  echo "# Exact versions the test suite passed with (pip constraints: pins what gets installed, installs nothing itself)."
  echo "# Used by make install / make demo / make test / .ci/run. Regenerate with: make lock"
  echo "# Written $(date -u +%Y-%m-%d) on $(uname -m), Python $($PYTHON -c 'import platform; print(platform.python_version())')."
  # torch: the local CPU wheel is 2.13.0+cpu; the plain version matches it and any other 2.13.0 build.
  $PYTHON -m pip freeze --exclude-editable 2>/dev/null \
    | grep -v -i -E '^(uara|-e |#)' | grep '==' \
    | sed -E 's/^(torch==[0-9.]+)\+[a-z0-9]+$/\1/' | LC_ALL=C sort -f
} > constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pins"
