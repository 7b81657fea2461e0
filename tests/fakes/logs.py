"""Records logged at ERROR, kept for a test to assert there were none."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class ErrorRecorder(logging.Handler):
    """Collects every record at ERROR or above, whoever logs it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def recording_errors(logger_name: str = "") -> Iterator[ErrorRecorder]:
    """An ``ErrorRecorder`` on one logger (the root by default) for the block: on the logger
    itself, so whatever logging set up elsewhere (levels, handlers) does not hide them."""
    recorder = ErrorRecorder()
    logger = logging.getLogger(logger_name)
    logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
