"""The one connect helper of the PostgreSQL data path, and driver-error classification.

The libpq URI is rebuilt from the parsed URL with every part percent-encoded, so a password
with an unencoded ``@``, ``:`` or ``#`` reaches libpq as one password and can never be parsed
into a host name that libpq then echoes in its messages.

Errors are classified by exception class and SQLSTATE, never by message text. libpq reports a
failed connect without a SQLSTATE, so :func:`probe` asks the server itself: a TCP connect and
a protocol-3 StartupMessage whose ErrorResponse carries the SQLSTATE (57P03 "starting up",
53300 "too many connections", 3D000, 28000 ...). An authentication request means the server is
up and the failure was ours (credentials, TLS).
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any
from urllib.parse import quote, urlencode

from colmig.backends.schema_common import CONNECT_TIMEOUT_S
from colmig.errors import ColmigError, ConnectionFailedError, TargetError, TransientError
from colmig.urls import URL, add_secret

#: URL query keys colmig handles itself instead of passing them to libpq.
OWN_KEYS = {"search_path", "schema", "table"}

#: SQLSTATE classes (first two characters) and codes worth a reconnect with backoff.
_TRANSIENT_CLASSES = {"08", "57", "53", "40"}
_FATAL_CODES = {"57014"}  # query_canceled: a statement timeout is not cured by retrying
_CONNECT_CLASSES = {"28", "3D"}  # invalid authorization, invalid catalog name


def libpq_uri(url: URL) -> str:
    """A libpq URI for ``url``: parts percent-encoded, a connect timeout, an application name."""
    add_secret(url.password)
    auth = ""
    if url.username is not None:
        auth = quote(url.username, safe="")
        if url.password is not None:
            auth += ":" + quote(url.password, safe="")
        auth += "@"
    host = url.host or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{url.port}" if url.port else ""
    query = {k: v for k, v in url.query.items() if k not in OWN_KEYS}
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    query.setdefault("application_name", "colmig")
    path = quote(url.database, safe="")
    return f"postgresql://{auth}{host}{port}/{path}?{urlencode(query)}"


def connect(url: URL) -> Any:
    """An ADBC connection (autocommit off) or a classified, redacted colmig error."""
    import adbc_driver_postgresql.dbapi as pg

    try:
        return pg.connect(libpq_uri(url), autocommit=False)
    except Exception as exc:
        raise connect_error(url, exc) from None


def connect_error(url: URL, exc: BaseException) -> ColmigError:
    """Classify a failed connect: server unreachable or not ready -> TransientError, else
    ConnectionFailedError (credentials, unknown database, unknown host)."""
    from colmig.backends.postgres.schema import pg_error

    transient, state = probe(url)
    detail = pg_error(exc)
    if state and "SQLSTATE" not in detail:
        detail += f" [SQLSTATE {state}]"
    cls = TransientError if transient else ConnectionFailedError
    return cls(f"cannot connect to {url.redacted}: {detail}", url=url.redacted, sqlstate=state)


def probe(url: URL) -> tuple[bool, str | None]:
    """(worth retrying, SQLSTATE) for a server libpq could not connect to."""
    host = url.host or url.query.get("host") or "localhost"
    port = url.port or int(url.query.get("port", "5432"))
    try:
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect(f"{host}/.s.PGSQL.{port}")
        else:
            sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except socket.gaierror:
        return False, None
    except OSError as exc:
        # Refused, unreachable or timed out: the server is down or restarting.
        return exc.errno not in {errno.EACCES, errno.EPERM}, None
    try:
        with sock:
            params = b"user\0" + (url.username or "postgres").encode() + b"\0"
            params += b"database\0" + (url.database or url.username or "").encode() + b"\0\0"
            sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
            head = _recv(sock, 5)
            kind, length = head[:1], struct.unpack("!i", head[1:])[0]
            if kind != b"E":
                return False, None  # an authentication request: the server is up
            state = _sqlstate(_recv(sock, min(length - 4, 65536)))
    except OSError:
        return True, None
    return is_transient_state(state), state


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError(errno.ECONNRESET, "closed")
        data += chunk
    return data


def _sqlstate(body: bytes) -> str | None:
    for part in body.split(b"\0"):
        if part[:1] == b"C":
            return part[1:].decode("ascii", "replace")
    return None


def is_transient_state(state: str | None) -> bool:
    if not state or state in _FATAL_CODES:
        return False
    return state[:2] in _TRANSIENT_CLASSES


def classify(exc: BaseException) -> type[ColmigError]:
    """The colmig error family of a driver exception raised on an open connection."""
    import adbc_driver_manager as adbc

    state = getattr(exc, "sqlstate", None) or None
    if state:
        if is_transient_state(state):
            return TransientError
        if state[:2] in _CONNECT_CLASSES:
            return ConnectionFailedError
        return TargetError
    # No SQLSTATE: the driver lost the server (IO status) rather than the server refusing.
    if isinstance(exc, adbc.OperationalError | ConnectionError | BrokenPipeError):
        return TransientError
    return TargetError
