"""An exclusive, cross-process file lock (fcntl.flock) with a timeout."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from colmig.errors import LockTimeoutError


class FileLock:
    """Exclusive ``flock`` on ``path``; the kernel drops it when the process dies."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout_s: float) -> None:
        """Take the lock, polling until ``timeout_s`` passes; then raise LockTimeoutError."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeoutError(
                        f"another colmig run holds the {self.what} lock ({self.path}); waited "
                        f"{timeout_s:g}s. Let it finish, or raise -lock-timeout",
                        lock=str(self.path),
                    ) from None
                time.sleep(0.05)
        self._fd = fd

    def release(self) -> None:
        """Release the lock; safe when not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
