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
# (the admin was pointed at a replica), 1792 a write in a read-only transaction (the admin reads from a replica
# while the primary is down: app.dbreplica), 1927 connection killed.
UNREACHABLE_CODES = {2002, 2003, 2005, 2006, 2013, 2055, 1290, 1792, 1836, 1927}
READ_ONLY_CODES = {1290, 1792, 1836}  # the server answered, but refused a write


def is_unreachable(exc: BaseException) -> bool:
    """True when exc says the database server could not be reached (not a bug in the statement)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return error_code(exc) in UNREACHABLE_CODES


def error_code(exc: BaseException) -> int | None:
    """The MySQL error number of a DBAPIError (None for another error or driver)."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    return args[0] if args and isinstance(args[0], int) else None
