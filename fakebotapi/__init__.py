"""A strict fake of the Telegram Bot API: in memory (``FakeBotApi``) and over HTTP (``server``).

Tests, benchmarks and the playground use it; the bot's handlers and services never do.
"""

from fakebotapi.core import (
    JSON,
    ApiCall,
    FakeBotApi,
    Fault,
    ForbiddenFault,
    NetworkFault,
    RetryAfterFault,
    ScreenMessage,
    ServerError,
    TimeoutFault,
    Violation,
    parse_html,
)

__all__ = [
    "JSON",
    "ApiCall",
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
