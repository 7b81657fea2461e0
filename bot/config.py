"""Settings: ``config.toml`` plus environment overrides, validated before anything starts.

Every problem is reported on its own line naming the file (or environment variable), the key
and what is wrong, so a clinic's IT person never reads a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_PATH = Path("config.toml")
TELEGRAM_MAX_MESSAGES_PER_SECOND = 30
# With allow_paid_broadcast, for a fee per message.
PAID_BROADCAST_MAX_MESSAGES_PER_SECOND = 1000
# The most an invite's uses column holds (storage.models.MAX_INTEGER, written out: the
# settings are read before the storage floor is imported). More, and every /invite without
# USES would be refused in chat rather than the value here.
MAX_INVITE_USES = 2**31 - 1
# A reminder or a check-in window further off than a year is a slip of the keyboard; far
# enough off, the date it gives overflows and every /start would fail in chat.
MAX_CHECKIN_MINUTES = 366 * 24 * 60
# Telegram refuses an inline keyboard of more buttons than this (bot.keyboards.MAX_BUTTONS,
# written out as above); /timezone shows one button per common zone, so a longer list would
# leave every patient's /timezone without an answer.
MAX_COMMON_TIMEZONES = 100

# Environment variable -> (table, key). The environment wins over the file.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
    "TELEGRAM_API_BASE_URL": ("telegram", "api_base_url"),
    "TELEGRAM_FILE_BASE_URL": ("telegram", "file_base_url"),
    "TELEGRAM_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
    "TELEGRAM_MODE": ("telegram", "mode"),
    "TELEGRAM_WEBHOOK_URL": ("telegram", "webhook_url"),
    "TELEGRAM_WEBHOOK_LISTEN": ("telegram", "webhook_listen"),
    "TELEGRAM_WEBHOOK_PORT": ("telegram", "webhook_port"),
    "PATIENTBOT_HEALTH_LISTEN": ("health", "listen"),
    "PATIENTBOT_HEALTH_PORT": ("health", "port"),
    "PATIENTBOT_DATABASE_URL": ("database", "url"),
    "PATIENTBOT_LOG_FORMAT": ("logging", "format"),
    "PATIENTBOT_DEFAULT_LANGUAGE": ("i18n", "default_language"),
    "PATIENTBOT_LOG_LEVEL": ("logging", "level"),
    "PATIENTBOT_ERASURE_KEY": ("privacy", "erasure_key"),
}


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise ValueError(
            f"'{name}' is not an IANA time zone name (for example Europe/London)"
        ) from None
    return name


TELEGRAM_API_ORIGIN = "https://api.telegram.org/"


class TelegramSettings(_Table):
    token: SecretStr = SecretStr("")
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "/telegram"
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    # Telegram's updates are a few kilobytes; anything larger is refused unread (413).
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # The largest file the bot may send (Telegram's: 50 MB; a self-hosted Bot API server
    # started with --local takes 2,000). An export past it goes zipped, or not at all.
    max_upload_bytes: int = Field(default=50_000_000, ge=1024, le=2_000_000_000)

    @field_validator("api_base_url", "file_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _strip_token(cls, value: SecretStr) -> SecretStr:
        # Read from a secrets file it often ends in a newline: that token is the one PTB
        # sends and puts in its errors, so it is the one the log must redact.
        return SecretStr(value.get_secret_value().strip())

    @field_validator("webhook_secret")
    @classmethod
    def _secret_chars(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not (
            len(secret) <= 256 and all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def has_token(self) -> bool:
        return bool(self.token.get_secret_value().strip())

    @property
    def self_hosted_api(self) -> bool:
        """Whether updates come from a Bot API server of our own, not Telegram's.

        A local ``telegram-bot-api`` server posts webhooks to plain http:// URLs on any port
        and local address; Telegram's own only to https:// on ports 443, 80, 88 and 8443.
        """
        return not self.api_base_url.lower().startswith(TELEGRAM_API_ORIGIN)


class DatabaseSettings(_Table):
    url: str = "sqlite:///data/patientbot.db"
    auto_migrate: bool = True

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:///path or postgresql://user@host/database URL")
        if value.startswith("sqlite://") and value.split("?", 1)[0] in (
            "sqlite://",
            "sqlite:///",
            "sqlite:///:memory:",
        ):
            raise ValueError(
                "names no file: a database in memory loses every answer when the bot stops; "
                "give a path, such as sqlite:///data/patientbot.db"
            )
        return value


class SchedulerSettings(_Table):
    scan_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    # The whole bot's budget: replies first, prompts and reminders take what replies leave.
    messages_per_second: float = Field(default=29.0, gt=0)
    default_timezone: str = "Europe/London"
    # Short, renewed every quarter of it while the claims are sent: a dead sender's rows pass on
    # within seconds (a restart on the same host takes them back at once).
    claim_lease_seconds: int = Field(default=15, ge=10, le=3600)
    scan_batch_size: int = Field(default=500, ge=1, le=10000)
    # Telegram's paid broadcasts: prompts and reminders carry allow_paid_broadcast and the
    # budget rises to paid_messages_per_second. Each such message costs the bot 0.1 Telegram
    # Stars from its balance (Bot API), so it is off unless an operator turns it on.
    paid_broadcast: bool = False
    paid_messages_per_second: float = Field(
        default=PAID_BROADCAST_MAX_MESSAGES_PER_SECOND,
        gt=0,
        le=PAID_BROADCAST_MAX_MESSAGES_PER_SECOND,
    )

    @property
    def send_rate(self) -> float:
        """The bot's whole send budget a second (replies first, prompts the rest)."""
        return self.paid_messages_per_second if self.paid_broadcast else self.messages_per_second

    @field_validator("messages_per_second")
    @classmethod
    def _below_telegram_limit(cls, value: float) -> float:
        if value > TELEGRAM_MAX_MESSAGES_PER_SECOND:
            raise ValueError(
                f"{value:g} is above Telegram's limit of {TELEGRAM_MAX_MESSAGES_PER_SECOND} "
                "messages a second"
            )
        return value

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)


class CheckinSettings(_Table):
    first_reminder_minutes: int = Field(default=60, ge=1)
    reminder_interval_minutes: int = Field(default=120, ge=1)
    max_reminders: int = Field(default=2, ge=0, le=10)
    expiry_minutes: int = Field(default=24 * 60, ge=5)
    max_reasks: int = Field(default=3, ge=1, le=20)
    quiet_hours_start: time | None = time(21, 0)
    quiet_hours_end: time | None = time(8, 0)
    common_timezones: list[str] = ["Europe/London", "Europe/Berlin", "America/New_York"]
    # A question stored as the next one but not recorded as sent this long (a kill between
    # the answer's commit and the send) is sent by the due scan.
    question_resend_seconds: float = Field(default=30.0, ge=1, le=3600)
    # More updates than this from one chat within a minute: the bot says once that it pauses
    # its replies there, and stays quiet until the rate falls (everything is still handled).
    flood_messages_per_minute: int = Field(default=30, ge=5, le=1000)

    @field_validator("common_timezones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        zones = list(dict.fromkeys(_check_zone(name) for name in value))
        if len(zones) > MAX_COMMON_TIMEZONES:
            raise ValueError(
                f"{len(zones)} zones are more than the {MAX_COMMON_TIMEZONES} buttons Telegram "
                "shows under /timezone; patients can still type any zone with /timezone NAME"
            )
        return zones

    @field_validator("first_reminder_minutes", "reminder_interval_minutes", "expiry_minutes")
    @classmethod
    def _within_a_year(cls, value: int) -> int:
        if value > MAX_CHECKIN_MINUTES:
            raise ValueError(
                f"{value} is more than 366 days ({MAX_CHECKIN_MINUTES} minutes), the longest "
                "allowed"
            )
        return value

    @model_validator(mode="after")
    def _quiet_pair(self) -> CheckinSettings:
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValueError("quiet_hours_start and quiet_hours_end must be set together")
        return self


class InboxSettings(_Table):
    # A claimed update not finished within this is handled by another instance (or after a
    # restart). Renewed every quarter of it while the batch is handled, so it bounds only the
    # wait after a crash: the updates a dead instance held pass on within it.
    claim_lease_seconds: float = Field(default=10.0, ge=1, le=3600)
    # Handled updates are kept this long (for an investigation), then purged by the due scan.
    keep_handled_days: float = Field(default=7.0, gt=0, le=365)
    purge_batch_size: int = Field(default=1000, ge=1, le=100_000)


class RetentionSettings(_Table):
    # Answers and finished check-ins older than this many days are purged by the due scan,
    # purge_batch_size check-ins per scan, each batch with one audit event. None keeps them.
    answers_days: int | None = Field(default=None, ge=1, le=36_500)
    purge_batch_size: int = Field(default=500, ge=1, le=100_000)


class PrivacySettings(_Table):
    # The key of the marks an erasure leaves (bot.services.erasure). Empty: derived from the
    # bot token (see Settings.erasure_key).
    erasure_key: SecretStr = SecretStr("")


class InviteSettings(_Table):
    expiry_days: int = Field(default=14, ge=1, le=365)
    max_uses: int = Field(default=0, ge=0)
    # Guessing codes (bot.services.throttle): this many wrong codes from one user within the
    # window start a cool-down, which doubles each time up to the longest.
    wrong_codes_per_user: int = Field(default=5, ge=1, le=1000)
    wrong_codes_window_minutes: int = Field(default=10, ge=1, le=24 * 60)
    cooldown_minutes: int = Field(default=15, ge=1, le=24 * 60)
    cooldown_max_hours: int = Field(default=24, ge=1, le=30 * 24)
    # Wrong codes from everyone together within an hour that alert the administrators once.
    wrong_codes_alert_per_hour: int = Field(default=200, ge=1)

    @field_validator("max_uses")
    @classmethod
    def _countable(cls, value: int) -> int:
        if value > MAX_INVITE_USES:
            raise ValueError(
                f"{value} is more than the {MAX_INVITE_USES} uses an invite can count "
                "(0 means unlimited)"
            )
        return value

    @model_validator(mode="after")
    def _cooldowns_grow(self) -> InviteSettings:
        if self.cooldown_max_hours * 60 < self.cooldown_minutes:
            raise ValueError(
                f"cooldown_max_hours ({self.cooldown_max_hours}) must be at least "
                f"cooldown_minutes ({self.cooldown_minutes} minutes)"
            )
        return self


class I18nSettings(_Table):
    # The language of people whose Telegram app speaks none the bot has, until they choose
    # one with /language: one of bot.services.language.AVAILABLE.
    default_language: str = "en"

    @field_validator("default_language")
    @classmethod
    def _spoken(cls, value: str) -> str:
        from bot.services.language import AVAILABLE

        code = value.strip().lower()
        if code not in AVAILABLE:
            raise ValueError(
                f"'{value}' is not a language the bot speaks (one of: {', '.join(AVAILABLE)})"
            )
        return code


class TherapistSettings(_Table):
    # Telegram user ids are positive: a "-5" (a chat id pasted, say) named nobody, silently.
    user_ids: list[Annotated[int, Field(gt=0)]] = []


class LoggingSettings(_Table):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class HealthSettings(_Table):
    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = Field(default=8081, ge=1, le=65535)


class PlaygroundSettings(_Table):
    port: int = Field(default=8080, ge=1, le=65535)


# The digest's key is called ``time``, which would hide the type inside the class.
ClockTime = time
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DigestSettings(_Table):
    # The weekly digest to each therapist about each of their groups (bot.digests).
    enabled: bool = True
    weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    # Wall-clock time in the group's zone, "HH:MM".
    time: str = "08:00"

    @field_validator("time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            parsed = ClockTime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a time of day such as 08:00") from None
        return parsed.strftime("%H:%M")

    @property
    def weekday_number(self) -> int:
        return WEEKDAYS.index(self.weekday)

    @property
    def at(self) -> ClockTime:
        return ClockTime.fromisoformat(self.time)


class Settings(_Table):
    telegram: TelegramSettings = TelegramSettings()
    database: DatabaseSettings = DatabaseSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    checkins: CheckinSettings = CheckinSettings()
    inbox: InboxSettings = InboxSettings()
    invites: InviteSettings = InviteSettings()
    therapists: TherapistSettings = TherapistSettings()
    logging: LoggingSettings = LoggingSettings()
    health: HealthSettings = HealthSettings()
    playground: PlaygroundSettings = PlaygroundSettings()
    digest: DigestSettings = DigestSettings()
    retention: RetentionSettings = RetentionSettings()
    privacy: PrivacySettings = PrivacySettings()
    i18n: I18nSettings = I18nSettings()
    source: str = Field(default="defaults", exclude=True)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        telegram = self.telegram
        if telegram.mode == "webhook" and telegram.has_token:
            if not telegram.webhook_secret.get_secret_value():
                raise ValueError(
                    "[telegram] webhook_secret: required when mode is 'webhook' (or set "
                    "TELEGRAM_WEBHOOK_SECRET): a random string of A-Z, a-z, 0-9, _ and - that "
                    "Telegram sends back with every update"
                )
            problem = webhook_url_problem(telegram)
            if problem is not None:
                raise ValueError(f"[telegram] webhook_url: {problem}")
        return self

    @property
    def erasure_key(self) -> bytes:
        """The key of the erased people's marks: ``[privacy] erasure_key``, else the token's.

        Derived from the bot token when none is set, so the key is never stored beside the
        marks (a database copy alone cannot be searched for a Telegram id). A new token then
        means a new key: people erased before are no longer recognised, and an old button of
        theirs gets the reply any stranger gets. Without a token (the playground, whose people
        are made up) a fixed key.
        """
        configured = self.privacy.erasure_key.get_secret_value()
        if configured:
            return configured.encode("utf-8")
        token = self.telegram.token.get_secret_value()
        if not token:
            return b"patientbot playground erasure key"
        return hmac.new(token.encode("utf-8"), b"patientbot erasure key", hashlib.sha256).digest()


def webhook_url_problem(telegram: TelegramSettings) -> str | None:
    """Why ``webhook_url`` cannot be used in webhook mode, or None."""
    url = telegram.webhook_url
    if url.startswith("https://"):
        return None
    if url.startswith("http://") and telegram.self_hosted_api:
        return None
    if url.startswith("http://"):
        return (
            "Telegram posts only to https:// URLs; a plain http:// URL works only with a "
            "self-hosted Bot API server ([telegram] api_base_url)"
        )
    return (
        "required when mode is 'webhook', the public https:// URL (http:// with a "
        "self-hosted Bot API server; or set TELEGRAM_WEBHOOK_URL)"
    )


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the file named by ``path``, ``PATIENTBOT_CONFIG`` or ``config.toml``, then the env."""
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get("PATIENTBOT_CONFIG") or DEFAULT_CONFIG_PATH)
    label = str(config_path)
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError([f"{label}: not valid TOML: {error}"]) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError([f"{label}: cannot be read: {error}"]) from None
    elif path is not None or environ.get("PATIENTBOT_CONFIG"):
        raise ConfigError([f"{label}: no such file"])

    origins: dict[tuple[str, str], str] = {}
    for variable, (table, key) in ENV_OVERRIDES.items():
        value = environ.get(variable)
        if value is None or value == "":
            continue
        section = data.setdefault(table, {})
        if not isinstance(section, dict):
            continue  # the file's own problem is reported below
        section[key] = value
        origins[(table, key)] = variable

    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, label, origins)) from None
    return settings.model_copy(update={"source": label})


def _describe(
    error: ValidationError, label: str, origins: dict[tuple[str, str], str]
) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against config.toml)"
        elif item["type"] == "model_type":
            message = "must be a table"
        where = label
        if len(location) >= 2:
            variable = origins.get((location[0], location[1]))
            if variable:
                where = f"environment variable {variable}"
            key = ".".join(location[1:])
            problems.append(f"{where}: [{location[0]}] {key}: {message}")
        elif len(location) == 1:
            problems.append(f"{where}: [{location[0]}]: {message}")
        else:
            problems.append(f"{where}: {message}")
    return problems
