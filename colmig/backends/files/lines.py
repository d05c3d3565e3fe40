"""Lines longer than Arrow's parse block: measure them while reading, grow the block to fit.

Arrow's CSV and JSON readers parse fixed-size blocks and fail on a record longer than about
one block. Picking the block from the longest line would cost a scan of every file up front,
so reading starts with the usual block; the stream Arrow reads passes through a
:class:`LineMeter` (a few C-speed byte searches per block), and when Arrow fails after the
meter saw a line of half a block or more, the file is read again with a block that fits it,
skipping the rows already delivered. Past ``-max-line-bytes`` it is a source error naming
the line.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from colmig.errors import SourceDataError

#: Bytes read at a time by the scans here.
_STEP = 8 << 20


class LineMeter(io.RawIOBase):
    """A read-through stream noting the longest line (bytes between newlines) read so far
    and the line number it starts on."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw = raw
        self.newlines = 0
        self.bytes = 0  # read through the meter
        self.quoted = False  # saw a double quote: records may run over several lines
        self.run = 0  # bytes since the last newline
        self.run_line = 1
        self.longest = 0
        self.longest_line = 1

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = bytes(self.raw.read(size))
        self._count(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def _count(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        self.quoted = self.quoted or b'"' in chunk
        first = chunk.find(b"\n")
        if first < 0:
            self.run += len(chunk)
        else:
            # Lines wholly inside one chunk are shorter than a block: never too long for it.
            self.run += first
            self._note()
            self.newlines += chunk.count(b"\n")
            self.run = len(chunk) - chunk.rfind(b"\n") - 1
            self.run_line = self.newlines + 1
        self._note()

    def _note(self) -> None:
        if self.run > self.longest:
            self.longest = self.run
            self.longest_line = self.run_line


class LineTooLong(Exception):
    """A line longer than -max-line-bytes (line number counted in the stream read)."""

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(f"line {line} is longer than {limit} bytes")
        self.line = line
        self.limit = limit


def fitting_block(length: int, block: int) -> int:
    """A block comfortably larger than a line of ``length`` bytes (and than ``block``)."""
    want = max(2 * block, length + length // 4 + (1 << 20))
    return (want + (1 << 20) - 1) >> 20 << 20


def grown_batches(
    read: Callable[[int, Callable[[Any], Any]], Iterator[pa.RecordBatch]],
    block: int,
    limit: int,
    reset: Callable[[], None] | None = None,
    records: Callable[[int], tuple[int, int]] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The batches of ``read(block, wrap)``, read again with a larger block while Arrow fails
    on a line that does not fit (rows already yielded are skipped, ``reset`` forgets what the
    failed attempt collected). Other errors propagate unchanged; a line longer than ``limit``
    raises :class:`LineTooLong`. For CSV with quotes, ``records(n)`` gives (bytes, line) of
    the longest record in about the first ``n`` bytes: quoted newlines make records longer
    than their lines."""
    delivered = 0
    while True:
        meters: list[LineMeter] = []

        def wrap(stream: Any, meters: list[LineMeter] = meters) -> LineMeter:
            meters.append(LineMeter(stream))
            return meters[-1]

        skip = delivered
        try:
            for batch in read(block, wrap):
                _check(meters, limit)
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                if skip:
                    batch = batch.slice(skip)
                    skip = 0
                delivered += batch.num_rows
                yield batch
            _check(meters, limit)
            return
        except pa.ArrowInvalid:
            if not meters:
                raise
            meter = meters[-1]
            longest, line = meter.longest, meter.longest_line
            if longest < block // 2 and records is not None and meter.quoted:
                longest, line = records(meter.bytes + block)
            if longest < block // 2:
                raise
            if longest > limit:
                raise LineTooLong(line, limit) from None
            # A line still open when Arrow gave up is longer than seen: the block at least
            # doubles each time, so the re-reads add up to a few times the file at most.
            grown = min(fitting_block(longest, block), max(limit + (1 << 20), block))
            if grown <= block:
                raise
            block = grown
            if reset is not None:
                reset()


def first_block(limit: int, block: int) -> int:
    """The block to start with: no larger than ``limit``, so that any line longer than the
    limit runs over a block border, where the meter measures it."""
    return min(block, limit)


def _check(meters: list[LineMeter], limit: int) -> None:
    if meters and meters[-1].longest > limit:
        raise LineTooLong(meters[-1].longest_line, limit)


def too_long_error(shown: str, line: int | None, limit: int, where: str = "") -> SourceDataError:
    """The error for a line longer than ``-max-line-bytes``."""
    at = f"{shown}:{line}" if line is not None else f"{shown}{where}"
    return SourceDataError(
        f"{at}: line longer than -max-line-bytes ({limit} bytes); raise -max-line-bytes if"
        " the line is meant to be that long, or check the file for a missing line break or"
        " an unclosed quote",
        file=shown,
        line=line,
    )


def longest_line(stream: Any, limit: int) -> LineMeter:
    """A meter that read all of ``stream`` (or up to the first line longer than ``limit``):
    its ``longest``, ``longest_line`` and ``quoted`` describe the file."""
    meter = LineMeter(stream)
    while meter.longest <= limit and meter.read(_STEP):
        pass
    return meter


class DropLines(io.RawIOBase):
    """``raw`` without the lines numbered in ``dropped`` (from 1): JSON Lines records set
    aside by -on-error skip|reject, read past by Arrow on the second attempt."""

    def __init__(self, raw: Any, dropped: set[int]) -> None:
        super().__init__()
        self.raw = raw
        self.lines = io.BufferedReader(_Source(raw), _STEP)
        self.dropped = dropped
        self.number = 0
        self.pending = b""

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        parts = [self.pending]
        size = len(self.pending)
        while size < want:
            line = self.lines.readline()
            if not line:
                break
            self.number += 1
            if self.number not in self.dropped:
                parts.append(line)
                size += len(line)
        data = b"".join(parts)
        self.pending = data[want:]
        buffer[: min(want, len(data))] = data[:want]
        return min(want, len(data))


class _Source(io.RawIOBase):
    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.raw.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)
