"""Errors classified by type and errno, never by message text."""

from __future__ import annotations

import errno
import os

import pytest

from colmig.errors import (
    EXIT_CODE_MEANINGS,
    EXIT_TARGET,
    ColmigError,
    ConnectionFailedError,
    TargetError,
    local_decode_error,
    os_error_in,
    target_write_error,
)


def _wrapped(exc: BaseException) -> ColmigError:
    """As a backend wraps a library error: ``raise ... from None`` keeps __context__."""
    try:
        try:
            raise exc
        except BaseException:
            raise ConnectionFailedError("writing part 1: OSError: something") from None
    except ConnectionFailedError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (errno.ENOSPC, "ENOSPC"),
        (errno.EROFS, "EROFS"),
        (errno.EACCES, "EACCES"),
        (errno.ENAMETOOLONG, "ENAMETOOLONG"),
        (errno.EFBIG, "EFBIG"),
    ],
)
def test_target_write_errors_by_errno(code: int, name: str) -> None:
    wrapped = _wrapped(OSError(code, os.strerror(code), "/data/out/x.parquet"))
    mapped = target_write_error(wrapped, "file:///data/out")
    assert isinstance(mapped, TargetError) and mapped.exit_code == EXIT_TARGET
    assert f"({name})" in str(mapped) and "/data/out/x.parquet" in str(mapped)
    assert os.strerror(code) in str(mapped)


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ECONNREFUSED, "Connection refused"),
        OSError("No space left on device"),  # the words without an errno mean nothing
        ValueError("EROFS"),
    ],
)
def test_other_errors_keep_their_classification(exc: BaseException) -> None:
    assert target_write_error(_wrapped(exc), "t") is None


def test_os_error_in_finds_the_nearest_errno() -> None:
    inner = OSError(errno.ENOSPC, "No space left on device")
    assert os_error_in(_wrapped(inner)) is inner
    assert os_error_in(ValueError("x")) is None


def test_local_decode_error_is_an_errno_less_os_error() -> None:
    assert local_decode_error(_wrapped(OSError("Couldn't deserialize thrift")))
    assert not local_decode_error(_wrapped(OSError(errno.EIO, "Input/output error")))
    assert not local_decode_error(_wrapped(ValueError("x")))


def test_every_exit_code_has_a_meaning() -> None:
    assert sorted(EXIT_CODE_MEANINGS) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 130, 143]
