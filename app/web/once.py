"""Show-once pages after a POST: the POST stores what to show and redirects; the page shows it on its first GET only.

Redirect after every POST (a refresh never re-posts a form), yet a generated password must not travel in the
session cookie (signed, not encrypted) nor be shown twice. So the payload is written server-side under
instance/once/ (0600, one file per random token, any worker can read it), the session keeps only the token, and the
first GET deletes the file: a refresh, a second tab or a replayed cookie finds nothing. Unread payloads expire
after ONCE_TTL seconds. A refused form's typed values wait the same way, under their own session key
(app.web.views.base.stash_failed_form).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from pathlib import Path

from flask import current_app, session
from flask_login import current_user

ONCE_TTL = 600  # seconds a stored payload waits for its page
_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
SESSION_KEY = "tl_once"


def _folder() -> Path:
    configured = current_app.config.get("ONCE_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "once"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _purge(folder: Path) -> None:
    limit = time.time() - ONCE_TTL
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < limit:
                path.unlink()


def put(payload: dict, key: str = SESSION_KEY) -> None:
    """Keep `payload` (JSON-safe) for the signed-in user's next show-once page (or, with another session `key`, for the
    next page that takes that key: a failed form's values, app.web.views.base.stash_failed_form)."""
    folder = _folder()
    _purge(folder)
    token = secrets.token_hex(16)
    path = folder / f"{token}.json"
    with open(path, "x", encoding="utf-8") as out:
        path.chmod(0o600)
        json.dump({"user_id": current_user.id, "created": time.time(), "payload": payload}, out)
    session[key] = token


def take(key: str = SESSION_KEY) -> dict | None:
    """The payload kept for this session under `key`, removed as it is read; None when already shown, expired or
    someone else's."""
    token = session.pop(key, None)
    if not token or not _TOKEN_RE.match(str(token)):
        return None
    path = _folder() / f"{token}.json"
    try:
        claimed = path.with_name(f"{token}.{secrets.token_hex(4)}.reading")
        path.rename(claimed)  # atomic: of two simultaneous reads, one gets it
    except FileNotFoundError:
        return None
    try:
        stored = json.loads(claimed.read_text(encoding="utf-8"))
    finally:
        claimed.unlink()
    if stored.get("user_id") != current_user.id or time.time() - float(stored.get("created", 0)) > ONCE_TTL:
        return None
    return stored["payload"]
