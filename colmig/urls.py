"""The one place connection URLs are parsed and redacted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from colmig.errors import ConfigError

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# The password runs to the LAST "@" of the token: unencoded "@", "/" or "#" in a password must
# not leak its tail (urlsplit also splits user info at the last "@"). Over-redacting is safer.
_PASSWORD_RE = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<pw>\S*)(?=@)")
_SECRET_QUERY_RE = re.compile(
    r"(?P<key>(?:password|passwd|pwd|secret|token|key|aws_secret_access_key|sas_token"
    r"|account_key|credentials?)=)(?P<val>[^&\s]+)",
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
