"""MySQL/MariaDB driver exceptions to colmig's error families, by class and server errno.

pymysql puts the server (or client, 2xxx) error number in ``args[0]``. The message text is
never looked at: it is translated, and it may quote user data.
"""

from __future__ import annotations

from colmig.errors import ColmigError, ConnectionFailedError, TargetError, TransientError

#: The server will not let us in, or the database is not there: retrying cannot help.
REFUSED_LOGIN = {
    1044,  # access denied to the database
    1045,  # access denied (wrong user or password)
    1049,  # unknown database
    1130,  # host not allowed to connect
    1698,  # access denied (socket/auth plugin)
    2005,  # unknown server host
    2059,  # authentication plugin cannot be loaded
    1251,  # client does not support the authentication protocol
}

#: The connection went away, could not be made, or the server asked us to try again.
TRANSIENT = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout
    1213,  # deadlock
    1927,  # connection killed (MariaDB)
    2002,  # cannot connect through the socket
    2003,  # cannot connect to the server (refused, timeout)
    2006,  # server has gone away
    2013,  # lost connection during query
    2055,  # lost connection at reading/writing
    4031,  # disconnected by the server for inactivity (MySQL 8)
}


def errno_of(exc: BaseException) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def error_class(exc: BaseException) -> type[ColmigError]:
    """TransientError, ConnectionFailedError or TargetError for a pymysql/socket exception."""
    import pymysql

    code = errno_of(exc)
    if isinstance(exc, pymysql.err.MySQLError) and code is not None:
        if code in REFUSED_LOGIN:
            return ConnectionFailedError
        if code in TRANSIENT:
            return TransientError
        return TargetError
    if isinstance(exc, pymysql.err.InterfaceError | ConnectionError | TimeoutError | EOFError):
        return TransientError
    if isinstance(exc, OSError):
        return TransientError
    return TargetError
