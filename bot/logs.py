"""Logging: one line per event, readable text or JSON, never a secret or a patient's answer.

Text is the default (``2026-11-25 09:00:00 INFO    bot.scheduler: due scan: 3 sent
[claimed=3 sent=3]``); ``[logging] format = "json"`` writes one JSON object per line for a
log collector. Facts about an event (delivery id, task id, counts) travel as ``extra=`` fields,
not inside the sentence, so both formats can show them and a collector can index them.

Two things never reach the log at the default level: the bot token or webhook secret (every
logger, every field and every traceback passes the redacting filter) and what a patient sent
(answers, names, file ids). Our own code logs ids, never answers; the filters also hide the
bound parameters that SQLAlchemy puts into its exception messages (an answer being inserted
when the database failed) and any record of a library's that quotes an update, unless the
level is DEBUG.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

REDACTED = "[REDACTED]"
HIDDEN_PARAMETERS = "[parameters hidden: set [logging] level = DEBUG to see them]"

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is shown.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# SQLAlchemy's errors end with "[SQL: ...]" and "[parameters: (...)]" lines; the values bound
# to an INSERT INTO answers are what the patient typed.
_SQL_PARAMETERS = re.compile(r"^\[parameters: .*$", re.MULTILINE)


class RedactingFilter(logging.Filter):
    """Replace every secret by a placeholder, whichever library logged it, wherever it is."""

    def __init__(self, secrets: list[str], *, hide_sql_parameters: bool = True) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]
        self.hide_sql_parameters = hide_sql_parameters

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        if self.hide_sql_parameters:
            text = _SQL_PARAMETERS.sub(HIDDEN_PARAMETERS, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self.clean(text), None
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, self.clean(value))
            elif self.secrets and not isinstance(value, int | float | bool | type(None)):
                text = str(value)
                if self.clean(text) != text:
                    setattr(record, key, self.clean(text))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def _stamp(record: logging.LogRecord) -> datetime:
    return datetime.fromtimestamp(record.created, UTC)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [key=value ...]``; a traceback follows on indented lines."""

    def format(self, record: logging.LogRecord) -> str:
        # A message with a line break would read as two events.
        message = record.getMessage().replace("\r", "").replace("\n", " | ")
        line = f"{_stamp(record):%Y-%m-%d %H:%M:%S} {record.levelname:<7} {record.name}: {message}"
        extras = " ".join(f"{k}={_plain(v)}" for k, v in _extras(record).items())
        if extras:
            line = f"{line} [{extras}]"
        trace = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if trace:
            line = line + "\n" + "\n".join(f"    {part}" for part in trace.splitlines())
        return line


def _plain(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _stamp(record).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        trace = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if trace:
            entry["exception"] = trace
        return json.dumps(entry, default=str, ensure_ascii=False)


# What only an update (or a piece of one) carries: a record holding it may hold what a patient
# typed, their name or their files' ids. Keys only as a mapping or JSON writes them: a bare
# ``update_id`` is also the inbox's column, and a database error naming it ("database or disk
# is full" while storing updates) must keep its message.
_UPDATE_MARKERS = re.compile(
    r"""['"](?:update_id|text|caption|first_name|last_name|username|file_id|data)['"]\s*:"""
    r"""|\b(?:Update|Message|CallbackQuery|User)\("""
)
WITHHELD = "[update content withheld: set [logging] level = DEBUG to see it]"


class PatientDataFilter(logging.Filter):
    """Keep what patients sent out of every record below DEBUG, whichever library wrote it.

    Our own code logs ids only. Libraries do not: python-telegram-bot logs an update it cannot
    parse whole at CRITICAL, and an exception's message can quote the object it failed on. A
    record whose message or traceback carries update data keeps its logger, level and the
    sentence before the data; the data itself is replaced.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        message = record.getMessage()
        if _UPDATE_MARKERS.search(message):
            template = str(record.msg)
            sentence = template.split("%", 1)[0].rstrip(" :=") if record.args else ""
            record.msg = f"{sentence or record.name}: {WITHHELD}"
            record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = text, None
        if record.exc_text and _UPDATE_MARKERS.search(record.exc_text):
            # The traceback's frames are code; only its last lines quote the failing value.
            frames = [
                line for line in record.exc_text.splitlines() if line.startswith(("  ", "Trace"))
            ]
            record.exc_text = "\n".join([*frames, f"(exception message) {WITHHELD}"])
        return True


def setup_logging(level: str, fmt: str, secrets: list[str], stream: IO[str] | None = None) -> None:
    """Send every logger's records through one handler: redacted, one event per line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(secrets, hide_sql_parameters=level != "DEBUG"))
    if level != "DEBUG":
        handler.addFilter(PatientDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and a Bot API URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic narrates each step at INFO; the bot logs one line of its own per upgrade.
    logging.getLogger("alembic").setLevel(logging.WARNING)
