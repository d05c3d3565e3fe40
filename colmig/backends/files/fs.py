"""Resolve a files URL to an fsspec filesystem and a root path; classify storage errors.

``file://`` and bare paths use the local filesystem; ``s3://`` s3fs, ``gs://`` gcsfs,
``az://``/``abfs://`` adlfs, ``memory://`` fsspec's in-memory filesystem (tests, path logic).
Object-storage credentials come from each library's standard chain (``AWS_*`` variables,
profiles, instance roles; ``AZURE_STORAGE_*``; Google's application default credentials); the
endpoint from ``AWS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``, an Azure connection string's
``BlobEndpoint`` or ``?endpoint_url=`` in the URL. Query keys that are not data options (see
:data:`DATA_OPTIONS`) are storage options.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import fsspec

from colmig.errors import ConfigError, ConnectionFailedError, TransientError
from colmig.urls import URL, add_secret

#: Query keys read as data options, never passed to the filesystem.
DATA_OPTIONS = frozenset(
    {"format", "compression", "delimiter", "header", "null_values", "timestamp_format"}
)

_LIBRARY = {"s3": "s3fs", "gcs": "gcsfs", "abfs": "adlfs"}
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
    elif protocol == "gcs":
        options = _gcs_options(options)
    elif protocol == "abfs":
        options = _azure_options(options, url)
    try:
        fs = _filesystem_class(protocol, options)(**options)
    except ImportError as exc:
        extra = {"s3": "s3", "gcs": "gcs", "abfs": "azure"}.get(protocol, "all")
        raise ConfigError(
            f"{url.scheme}:// needs {exc.name or _LIBRARY.get(protocol, protocol)};"
            f" install it with: pip install 'colmig[{extra}]'"
        ) from None
    except TypeError as exc:
        raise ConfigError(f"bad storage option in {url.redacted}: {exc}") from None
    except Exception as exc:
        # Unusable credentials fail here: a malformed key file, a bad connection string.
        raise ConfigError(
            f"cannot set up storage for {url.redacted} ({type(exc).__name__}: {exc})"
        ) from None
    bucket = url.host or ""
    if protocol == "abfs" and url.username:
        bucket = url.username  # abfss://container@account.dfs.core.windows.net/path
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
    # colmig retries whole partitions with backoff; botocore's own retries stay short so a
    # wrong or dead endpoint fails in seconds, not after minutes of nested retries.
    out.setdefault(
        "config_kwargs",
        {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 5},
    )
    return out


def _gcs_emulator(options: dict[str, Any]) -> bool:
    # gcsfs, like Google's clients, reads "default" as "no emulator".
    host = os.environ.get("STORAGE_EMULATOR_HOST", "")
    return bool(options.get("endpoint_url") or host not in ("", "default"))


def _gcs_options(options: dict[str, Any]) -> dict[str, Any]:
    """gcsfs options. The endpoint is ``?endpoint_url=`` or STORAGE_EMULATOR_HOST (read by
    gcsfs itself); credentials come from Google's chain unless ``?token=`` names a method or a
    key file. Against an emulator the default is anonymous: Google's chain would probe the
    cloud metadata server, which an emulator user never wants."""
    out = dict(options)
    endpoint = out.pop("endpoint", None)
    if endpoint and not out.get("endpoint_url"):
        out["endpoint_url"] = endpoint
    token = out.get("token")
    if isinstance(token, str) and ("/" in token or token.endswith(".json")):
        # gcsfs would take a missing key file's name for a raw access token and send it to
        # Google's tokeninfo endpoint.
        if not os.path.isfile(os.path.expanduser(token)):
            raise ConfigError(f"GCS credentials file {token} does not exist (the URL's token)")
        out["token"] = os.path.expanduser(token)
    if _gcs_emulator(out):
        out.setdefault("token", "anon")
        endpoint = out.get("endpoint_url") or os.environ["STORAGE_EMULATOR_HOST"]
        source = "?endpoint_url=" if out.get("endpoint_url") else "STORAGE_EMULATOR_HOST"
        _check_reachable(endpoint, source)
    # gcsfs logs every retry's traceback itself; colmig reports the final error once.
    gcsfs_log = logging.getLogger("gcsfs")
    if not gcsfs_log.handlers:
        gcsfs_log.addHandler(logging.NullHandler())
    for key in ("requester_pays", "version_aware"):
        if key in out:
            out[key] = str(out[key]).lower() in {"1", "true", "yes"}
    return out


#: Azure variables and storage options holding secrets, redacted from every message.
_AZURE_SECRET_VARS = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_SECRET",
)
_AZURE_SECRET_OPTIONS = ("connection_string", "account_key", "sas_token", "client_secret")


def _connection_fields(connection: str) -> dict[str, str]:
    """``Key=Value;...`` of an Azure connection string, keys lower-cased."""
    fields = {}
    for item in connection.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields


def _azure_options(options: dict[str, Any], url: URL) -> dict[str, Any]:
    """adlfs options. adlfs reads AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_NAME
    and _KEY, _SAS_TOKEN and the service-principal variables itself; the same names work as
    URL query keys (``?account_name=``). ``?endpoint_url=`` (Azurite, sovereign clouds) joins
    the account name and key into a connection string, the only adlfs input that takes an
    http:// endpoint. Every secret is registered for redaction."""
    out = dict(options)
    for name in _AZURE_SECRET_VARS:
        _remember_azure_secret(os.environ.get(name))
    for key in _AZURE_SECRET_OPTIONS:
        _remember_azure_secret(out.get(key))
    if url.username and url.host and "." in url.host:
        out.setdefault("account_name", url.host.split(".", 1)[0])
    endpoint = out.pop("endpoint_url", None) or out.pop("endpoint", None)
    if endpoint:
        out["connection_string"] = _azure_connection_string(endpoint, out)
    connection = out.get("connection_string") or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    blob_endpoint = _connection_fields(connection).get("blobendpoint") if connection else None
    if blob_endpoint:
        # The Azure SDK retries a refused connection for minutes before giving up.
        source = "?endpoint_url=" if endpoint else "the connection string's BlobEndpoint"
        _check_reachable(blob_endpoint, source)
    for key in ("anon", "version_aware", "assume_container_exists"):
        if key in out:
            out[key] = str(out[key]).lower() in {"1", "true", "yes"}
    return out


def _remember_azure_secret(value: object) -> None:
    if not isinstance(value, str):
        return
    add_secret(value)
    fields = _connection_fields(value)
    add_secret(fields.get("accountkey"))
    add_secret(fields.get("sharedaccesssignature"))


def _azure_connection_string(endpoint: str, options: dict[str, Any]) -> str:
    name = options.pop("account_name", None) or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
    key = options.pop("account_key", None) or os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
    sas = options.pop("sas_token", None) or os.environ.get("AZURE_STORAGE_SAS_TOKEN")
    if not name or not (key or sas):
        raise ConfigError(
            "?endpoint_url= on an az:// URL needs an account name and its key or a SAS token"
            " (AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or"
            " AZURE_STORAGE_SAS_TOKEN, or ?account_name= and ?account_key=); or set"
            " AZURE_STORAGE_CONNECTION_STRING instead"
        )
    scheme = urlsplit(endpoint).scheme or "https"
    parts = [f"DefaultEndpointsProtocol={scheme}", f"AccountName={name}"]
    parts.append(f"AccountKey={key}" if key else f"SharedAccessSignature={str(sas).lstrip('?')}")
    parts.append(f"BlobEndpoint={endpoint}")
    options.pop("connection_string", None)
    return ";".join(parts) + ";"


def _check_reachable(endpoint: str, source: str) -> None:
    """Fail at once on an explicit endpoint that refuses connections: gcsfs and the Azure SDK
    retry each call for half a minute or more first, which only hides a mistyped host or port."""
    if "://" not in endpoint:
        endpoint = f"http://{endpoint}"
    parts = urlsplit(endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "", port), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise ConnectionFailedError(
            f"cannot reach the storage endpoint {endpoint} (from {source}): {exc}"
        ) from None


def _filesystem_class(protocol: str, options: dict[str, Any]) -> type[fsspec.AbstractFileSystem]:
    if protocol == "gcs" and _gcs_emulator(options):
        # gcsfs's default class asks GCS's gRPC control plane for each bucket's type, which
        # emulators do not serve: every bucket would stall ~60 s. Its JSON-API base class
        # (all that an emulator speaks) has no such lookup.
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem  # type: ignore[no-any-return]
    return fsspec.get_filesystem_class(protocol)  # type: ignore[no-any-return]


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
    full = f"{type(exc).__name__}: {exc}"
    lowered = full.lower()
    # Services append pages of XML/JSON detail; the first line says what went wrong.
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
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
