"""Logging set-up: one stderr handler whose every line passes through secret redaction."""

from __future__ import annotations

import logging
import sys

from colmig.urls import redact_secrets


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


def setup_logging(level: str) -> None:
    """Configure the ``colmig`` logger to write redacted lines to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("colmig")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
