"""Resolve a files URL to an fsspec filesystem and a root path; classify storage errors.

``file://`` and bare paths use the local filesystem; ``s3://`` s3fs, ``gs://`` gcsfs,
``az://``/``abfs://`` adlfs, ``memory://`` fsspec's in-memory filesystem (tests, path logic).
Object-storage credentials come from each library's standard chain (``AWS_*`` variables,
profiles, instance roles); the endpoint from ``AWS_ENDPOINT_URL`` or ``?endpoint_url=`` in the
URL. Query keys that are not data options (see :data:`DATA_OPTIONS`) are storage options.
"""

from __future__ import annotations

import os
from typing import Any

import fsspec

from colmig.errors import ConfigError, ConnectionFailedError, TransientError
from colmig.urls import URL

#: Query keys read as data options, never passed to the filesystem.
DATA_OPTIONS = frozenset(
    {"format", "compression", "delimiter", "header", "null_values", "timestamp_format"}
)

_PROTOCOL = {
    "file": "file",
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "abfs",
    "abfs": "abfs",
    "abfss": "abfs",
    "memory": "memory",
}


def filesystem(url: URL) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem serving ``url`` and the root path inside it (no trailing slash)."""
    protocol = _PROTOCOL.get(url.scheme)
    if protocol is None:
        raise ConfigError(f"{url.scheme}:// is not a files URL ({url.redacted})")
    options = {k: v for k, v in url.query.items() if k not in DATA_OPTIONS}
    if protocol == "file":
        path = url.path or "."
        root = os.path.abspath(os.path.expanduser(path))
        return fsspec.filesystem("file"), root.rstrip("/") or "/"
    if protocol == "s3":
        options = _s3_options(options)
    try:
        fs = fsspec.filesystem(protocol, **options)
    except ImportError as exc:
        extra = {"s3": "s3", "gcs": "gcs", "abfs": "azure"}.get(protocol, "all")
        raise ConfigError(
            f"{url.scheme}:// needs {exc.name}; install it with: pip install 'colmig[{extra}]'"
        ) from None
    except TypeError as exc:
        raise ConfigError(f"bad storage option in {url.redacted}: {exc}") from None
    bucket = url.host or ""
    root = f"{bucket}{url.path}".rstrip("/")
    if protocol == "memory":
        root = "/" + root.lstrip("/")
    return fs, root


def _s3_options(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    client: dict[str, Any] = {}
    endpoint = (
        options.pop("endpoint_url", None)
        or options.pop("endpoint", None)
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if endpoint:
        client["endpoint_url"] = endpoint
    region = options.pop("region", None) or options.pop("region_name", None)
    if region:
        client["region_name"] = region
    for key, value in options.items():
        if key in {"anon", "use_ssl", "requester_pays"}:
            out[key] = str(value).lower() in {"1", "true", "yes"}
        elif key == "profile":
            out["profile"] = value
        else:
            out[key] = value
    if client:
        out["client_kwargs"] = client
    # Retry throttling and dropped connections inside botocore too; colmig retries on top.
    out.setdefault("config_kwargs", {"retries": {"max_attempts": 5, "mode": "adaptive"}})
    return out


def join(root: str, *parts: str) -> str:
    """Join path parts with '/' (fsspec paths always use '/')."""
    out = root.rstrip("/")
    for part in parts:
        if part:
            out = f"{out}/{part.strip('/')}"
    return out


def display(url: URL, fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A path as the user would write it: local paths plain, remote ones with their scheme."""
    if url.scheme == "file":
        cwd = os.getcwd().rstrip("/") + "/"
        return "./" + path[len(cwd) :] if path.startswith(cwd) else path
    scheme = "memory" if url.scheme == "memory" else url.scheme
    return f"{scheme}://{path.lstrip('/')}"


_TRANSIENT_WORDS = (
    "slowdown",
    "slow down",
    "throttl",
    "timeout",
    "timed out",
    "connection reset",
    "connection aborted",
    "broken pipe",
    "service unavailable",
    "internal error",
    "internalerror",
    "503",
    "500",
    "temporarily",
    "requesttimeout",
    "server disconnected",
)
_CONNECTION_WORDS = (
    "could not connect",
    "cannot connect",
    "connection refused",
    "name or service not known",
    "nodename nor servname",
    "endpointconnectionerror",
)


def classify(exc: BaseException, what: str) -> Exception:
    """Turn a storage library's exception into a typed colmig error (redacted by the CLI)."""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if isinstance(exc, FileNotFoundError):
        return ConfigError(f"{what}: not found")
    if isinstance(exc, PermissionError):
        return ConnectionFailedError(f"{what}: permission denied ({exc})")
    if any(word in lowered for word in _CONNECTION_WORDS):
        return TransientError(f"{what}: cannot reach the storage endpoint: {text}")
    if any(word in lowered for word in _TRANSIENT_WORDS) or isinstance(
        exc, (TimeoutError, ConnectionError)
    ):
        return TransientError(f"{what}: {text}")
    return ConnectionFailedError(f"{what}: {text}")
