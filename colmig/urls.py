"""The one place connection URLs are parsed, redacted and made canonical (for job ids)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from colmig.errors import ConfigError

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# The password runs to the LAST "@" of the token: unencoded "@", "/" or "#" in a password must
# not leak its tail (urlsplit also splits user info at the last "@"). Over-redacting is safer.
_PASSWORD_RE = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<pw>\S*)(?=@)")
#: Query parameters (and connection-string fields) whose values are secrets. Matched only as
#: a parameter (after ``?``, ``&``, ``;`` or a space), never as any ``name=`` text: a hive path
#: ``/key=3/`` of a partition column called ``key`` must stay readable.
SECRET_PARAMETERS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "session_token",
    "security_token",
    "aws_secret_access_key",
    "aws_session_token",
    "secret_access_key",
    "secret_key",
    "sas_token",
    "sig",
    "account_key",
    "accountkey",
    "sharedaccesssignature",
    "credential",
    "credentials",
    "api_key",
    "apikey",
    # s3fs/gcsfs credentials in a storage URL's query: the access key id travels with its
    # secret and is kept out of logs like it (as a parameter only: /key=3/ paths stay visible).
    "key",
    "access_key",
    "access_key_id",
    "aws_access_key_id",
)
_SECRET_QUERY_RE = re.compile(
    r"(?P<key>(?:^|(?<=[?&;\s]))(?:" + "|".join(SECRET_PARAMETERS) + r")=)(?P<val>[^&;\s]+)",
    re.IGNORECASE,
)
REDACTED = "***"


@dataclass(frozen=True)
class URL:
    """A parsed connection URL. ``raw`` keeps the original text (with credentials)."""

    raw: str
    scheme: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    @property
    def redacted(self) -> str:
        return redact(self.raw)

    @property
    def database(self) -> str:
        """The path without its leading slash: a database name for servers."""
        return self.path.lstrip("/")

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        # repr ends up in tracebacks and assertion output: never the raw text with a password.
        return f"URL({self.redacted!r})"


def scheme_of(url: str) -> str:
    """Return the lower-cased scheme of ``url``; a bare path counts as ``file``."""
    match = _SCHEME_RE.match(url)
    return match.group(1).lower() if match else "file"


def parse(url: str) -> URL:
    """Parse ``url`` into its parts; raise ConfigError (password redacted) when it is malformed.

    ``sqlite:///abs/path`` and ``duckdb:///abs/path`` are absolute, ``sqlite://rel/path`` and
    ``file://./rel`` relative; a bare path is a ``file`` URL.
    """
    if not url or not url.strip():
        raise ConfigError("empty connection URL")
    scheme = scheme_of(url)
    if not _SCHEME_RE.match(url):
        return URL(raw=url, scheme="file", path=url)
    rest = url[len(scheme) + 3 :]
    if scheme in {"file", "sqlite", "sqlite3", "duckdb"}:
        path, _, query = rest.partition("?")
        return URL(raw=url, scheme=scheme, path=unquote(path), query=dict(parse_qsl(query)))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed URL {redact(url)}: {exc}") from None
    if parts.password:
        # A driver may echo the password in its own words (libpq does when an unencoded "@"
        # splits it differently): remember every spelling so any message is redacted.
        for password in {parts.password, unquote(parts.password)}:
            add_secret(password)
            # libpq splits at the first "@" where urlsplit takes the last: the pieces after
            # an unencoded "@" come back as a host name in its error message.
            for piece in password.split("@")[1:]:
                add_secret(piece)
    return URL(
        raw=url,
        scheme=scheme,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port,
        path=unquote(parts.path),
        query=dict(parse_qsl(parts.query)),
    )


def redact(text: str) -> str:
    """Replace every password in URLs and secret-looking query values in ``text`` with ***."""
    text = _PASSWORD_RE.sub(lambda m: m.group("head") + REDACTED, text)
    return _SECRET_QUERY_RE.sub(lambda m: m.group("key") + REDACTED, text)


#: Query parameters that change how colmig connects, never which data it reads or writes:
#: left out of a job's identity so adding ``?sslmode=disable`` resumes the same job.
CONNECTION_ONLY_PARAMETERS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "sslcompression",
        "ssl",
        "ssl_ca",
        "ssl_cert",
        "ssl_key",
        "ssl_verify_cert",
        "ssl_verify_identity",
        "tls",
        "connect_timeout",
        "timeout",
        "read_timeout",
        "write_timeout",
        "statement_timeout",
        "lock_timeout",
        "tcp_user_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "application_name",
        "fallback_application_name",
        "target_session_attrs",
        "gssencmode",
        "requiressl",
        "channel_binding",
        "passfile",
        "krbsrvname",
    }
)
_LOCAL_SCHEMES = {"file", "sqlite", "sqlite3", "duckdb"}
#: Spellings of one scheme that reach the same data.
_SCHEME_ALIASES = {
    "postgresql": "postgres",
    "sqlite3": "sqlite",
    "mariadb": "mysql",
    "s3a": "s3",
    "gcs": "gs",
    "abfs": "az",
    "abfss": "az",
}
_DEFAULT_PORTS = {"postgres": 5432, "timescale": 5432, "timescaledb": 5432, "mysql": 3306}


def canonical(url: str, cwd: str | None = None) -> str:
    """The spelling-independent identity of ``url`` (job ids are hashed from it).

    Local paths become absolute and resolved (symlinks, ``..``, trailing ``/``) against
    ``cwd``; scheme aliases, host case, default ports and trailing slashes are unified;
    parameters in :data:`CONNECTION_ONLY_PARAMETERS` and secret parameters are dropped, the
    others sorted. The password is never part of it; the user is (another user may see other
    rows). Never shown to users: it may hold a secret-free but otherwise raw URL."""
    parsed = parse(url)
    scheme = _SCHEME_ALIASES.get(parsed.scheme, parsed.scheme)
    query = _canonical_query(parsed.query)
    if parsed.scheme in _LOCAL_SCHEMES:
        path = parsed.path
        if path and path != ":memory:":
            base = cwd if cwd is not None else os.getcwd()
            path = os.path.realpath(os.path.join(base, os.path.expanduser(path)))
        return f"{scheme}://{quote(path)}{query}"
    host = (parsed.host or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parsed.port
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    user = f"{quote(parsed.username, safe='')}@" if parsed.username else ""
    path = parsed.path.rstrip("/")
    return f"{scheme}://{user}{host}{quote(path)}{query}"


def _canonical_query(query: dict[str, str]) -> str:
    kept = sorted(
        (key, value)
        for key, value in query.items()
        if key.lower() not in CONNECTION_ONLY_PARAMETERS and key.lower() not in SECRET_PARAMETERS
    )
    return f"?{urlencode(kept)}" if kept else ""


def add_secret(value: str | None) -> None:
    """Remember a secret (from env or config) so :func:`redact_secrets` strips it anywhere."""
    if value and len(value) >= 4:
        _KNOWN_SECRETS.add(value)


def redact_secrets(text: str) -> str:
    """Redact URLs and any remembered secret values from free text (logs, errors)."""
    text = redact(text)
    for secret in _KNOWN_SECRETS:
        text = text.replace(secret, REDACTED)
    return text


_KNOWN_SECRETS: set[str] = set()
