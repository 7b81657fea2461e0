"""A strict fake of the Telegram Bot API: in memory (``FakeBotApi``) and over HTTP (``server``).

Tests, benchmarks and the playground use it; the bot's handlers and services never do.
"""

from fakebotapi.core import FakeBotApi
from fakebotapi.entities import parse_html
from fakebotapi.records import (
    JSON,
    ApiCall,
    BadRequestFault,
    Fault,
    ForbiddenFault,
    NetworkFault,
    RetryAfterFault,
    ScreenMessage,
    ServerError,
    TimeoutFault,
    Violation,
)

__all__ = [
    "JSON",
    "ApiCall",
    "BadRequestFault",
    "FakeBotApi",
    "Fault",
    "ForbiddenFault",
    "NetworkFault",
    "RetryAfterFault",
    "ScreenMessage",
    "ServerError",
    "TimeoutFault",
    "Violation",
    "parse_html",
]
