"""The admin while the primary database is down: one clear message, nothing half-saved, no traceback.

Every write goes to the primary in one transaction; when the server cannot be reached the transaction
is rolled back (nothing of it was committed) and the person is told exactly this message. MySQL client
error codes (MariaDB Connector/C, errmsg.h; server error 1290 for a read-only server) decide what
"unreachable" is; anything else is a real bug and stays one.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

UNREACHABLE_MESSAGE = "the primary database is unreachable; nothing was saved"

# 2002/2003 cannot connect (socket, TCP), 2005 unknown host, 2006 server has gone away, 2013 lost connection
# during a query (read/write timeout), 2055 lost connection at handshake, 1290/1836 the server is read-only
# (the admin was pointed at a replica), 1927 connection killed.
UNREACHABLE_CODES = {2002, 2003, 2005, 2006, 2013, 2055, 1290, 1836, 1927}


def is_unreachable(exc: BaseException) -> bool:
    """True when exc says the database server could not be reached (not a bug in the statement)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    args = getattr(exc.orig, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in UNREACHABLE_CODES
