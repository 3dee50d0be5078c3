#!/usr/bin/env bash
# One command on a fresh machine: install everything the tests need, then run lint and every test.
# With CI=true, tests that need MariaDB (or Asterisk, or Chromium) fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh requirements-dev.txt
bash scripts/ensure_mariadb.sh
for extra in scripts/test_prereqs.d/*.sh; do
  [ -e "$extra" ] && bash "$extra"
done
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest tests "$@"
rc=$?
set -e
# pytest's exit 5 means no test ran: that is a failure here, never a pass.
exit $rc
