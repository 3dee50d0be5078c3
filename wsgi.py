"""WSGI entry point: `flask --app wsgi ...` and production servers import `app` from here."""

import sys

from app.errors import ConfigError

try:
    from app import create_app  # reads app.config: a setting that cannot work raises ConfigError

    app = create_app()
except ConfigError as exc:  # one line, not a traceback (CLI and servers alike)
    print(f"Error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
