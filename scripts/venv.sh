#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned requirements FILE into it. Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
req="${1:-requirements.txt}"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
# mysqlclient compiles against the MariaDB client headers.
if ! pkg-config --exists libmariadb 2>/dev/null && ! pkg-config --exists mysqlclient 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  else
    echo "venv: install libmariadb-dev and pkg-config (apt-get) first" >&2; exit 1
  fi
fi
stamp=".venv/.installed-$(sha1sum "$req" requirements.txt | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi
