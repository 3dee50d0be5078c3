"""WSGI entry point: `flask --app wsgi ...` and production servers import `app` from here."""

import sys

from app import create_app
from app.errors import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a setting that cannot work: one line, not a traceback (CLI and servers alike)
    print(f"Error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
