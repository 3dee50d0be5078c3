#!/usr/bin/env bash
# One command on a fresh machine: install, create the embedded SQLite database with the demo data, start the admin.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh requirements.txt
export FLASK_APP=wsgi
.venv/bin/flask schema upgrade
.venv/bin/flask seed
.venv/bin/flask realtime verify
if .venv/bin/flask users --help >/dev/null 2>&1; then
  .venv/bin/flask users ensure-demo-admin
fi
port="${PORT:-5000}"
echo
echo "Trunkline admin: http://127.0.0.1:${port}/"
.venv/bin/flask users demo-login-hint 2>/dev/null || true
exec .venv/bin/flask run --host "${HOST:-127.0.0.1}" --port "$port"
