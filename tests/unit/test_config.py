"""Configuration: defaults, environment overrides, and one clear line per problem."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import available_timezones

import pytest

from bot.cli import main
from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from storage.models import MAX_INTEGER

TOKEN = "123456789:AAH-secret-token-value_xyz"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    return caught.value.problems


def test_the_shipped_config_file_is_valid_and_matches_the_defaults() -> None:
    shipped = load_settings(Path(__file__).parents[2] / "config.toml", {})
    assert shipped.model_dump() == Settings().model_dump()
    assert shipped.database.url == "sqlite:///data/patientbot.db"
    assert shipped.scheduler.messages_per_second == 29


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\ntoken = "from-file"\n[database]\nurl = "sqlite:///a.db"\n')
    settings = load_settings(
        path,
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
            "TELEGRAM_FILE_BASE_URL": "http://127.0.0.1:8081/file/bot",
            "PATIENTBOT_DATABASE_URL": "postgresql://u@h/db",
        },
    )
    assert settings.telegram.token.get_secret_value() == TOKEN
    assert settings.telegram.api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.telegram.file_base_url == "http://127.0.0.1:8081/file/bot"
    assert settings.database.url == "postgresql://u@h/db"


def test_patientbot_config_names_the_file_to_read(tmp_path: Path) -> None:
    path = write(tmp_path, "[scheduler]\nmessages_per_second = 10\n")
    settings = load_settings(None, {"PATIENTBOT_CONFIG": str(path)})
    assert settings.scheduler.messages_per_second == 10
    assert problems(None, {"PATIENTBOT_CONFIG": str(tmp_path / "missing.toml")}) == [  # type: ignore[arg-type]
        f"{tmp_path / 'missing.toml'}: no such file"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[scheduler]\nmesages_per_second = 5\n", "[scheduler] mesages_per_second: unknown key"),
        ("[schedular]\n", "[schedular]: unknown key"),
        ('[scheduler]\nmessages_per_second = "fast"\n', "[scheduler] messages_per_second:"),
        (
            "[scheduler]\nmessages_per_second = 45\n",
            "[scheduler] messages_per_second: 45 is above Telegram's limit of 30",
        ),
        (
            '[scheduler]\ndefault_timezone = "Europe/Londres"\n',
            "[scheduler] default_timezone: 'Europe/Londres' is not an IANA time zone name",
        ),
        ('[telegram]\nmode = "push"\n', "[telegram] mode: Input should be 'polling' or 'webhook'"),
        ('[database]\nurl = "mysql://x"\n', "[database] url: must be a sqlite:///path"),
        ('[database]\nurl = "sqlite://"\n', "[database] url: names no file: a database in memory"),
        ('[database]\nurl = "sqlite:///:memory:"\n', "[database] url: names no file"),
        ('[therapists]\nuser_ids = ["abc"]\n', "[therapists] user_ids.0:"),
        (
            "[therapists]\nuser_ids = [9001, -5]\n",
            "[therapists] user_ids.1: Input should be greater than 0",
        ),
        ("telegram = 5\n", "[telegram]: must be a table"),
        (
            "[invites]\nwrong_codes_per_user = 0\n",
            "[invites] wrong_codes_per_user: Input should be greater than or equal to 1",
        ),
        (
            "[invites]\nwrong_codes_window_minutes = 0\n",
            "[invites] wrong_codes_window_minutes: Input should be greater than or equal to 1",
        ),
        (
            "[invites]\ncooldown_minutes = 600\ncooldown_max_hours = 2\n",
            "[invites]: cooldown_max_hours (2) must be at least cooldown_minutes (600 minutes)",
        ),
        (
            '[invites]\nwrong_codes_alert_per_hour = "many"\n',
            "[invites] wrong_codes_alert_per_hour:",
        ),
    ],
)
def test_each_problem_names_the_file_the_key_and_what_is_wrong(
    tmp_path: Path, text: str, expected: str
) -> None:
    found = problems(write(tmp_path, text))
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'config.toml'}: ")
    assert expected in found[0]


def test_counts_and_minutes_the_bot_cannot_use_stop_it_at_start(tmp_path: Path) -> None:
    """Loaded, these failed only in chat: every /invite without USES got its usage text, and
    every /start of a group with a task ended in "Sorry, something went wrong"."""
    path = write(
        tmp_path,
        "[invites]\nmax_uses = 99999999999\n"
        "[checkins]\nexpiry_minutes = 10000000000\nfirst_reminder_minutes = 527041\n"
        "reminder_interval_minutes = 600000\n[scheduler]\nclaim_lease_seconds = 1000000000\n",
    )
    assert problems(path) == [
        f"{path}: [scheduler] claim_lease_seconds: Input should be less than or equal to 3600",
        f"{path}: [checkins] first_reminder_minutes: 527041 is more than 366 days "
        "(527040 minutes), the longest allowed",
        f"{path}: [checkins] reminder_interval_minutes: 600000 is more than 366 days "
        "(527040 minutes), the longest allowed",
        f"{path}: [checkins] expiry_minutes: 10000000000 is more than 366 days "
        "(527040 minutes), the longest allowed",
        f"{path}: [invites] max_uses: 99999999999 is more than the 2147483647 uses an invite "
        "can count (0 means unlimited)",
    ]
    at_the_limits = write(
        tmp_path,
        f"[invites]\nmax_uses = {MAX_INTEGER}\n[checkins]\nexpiry_minutes = 527040\n",
    )
    settings = load_settings(at_the_limits, {})
    assert (settings.invites.max_uses, settings.checkins.expiry_minutes) == (MAX_INTEGER, 527040)


def test_more_common_zones_than_a_keyboard_holds_stop_the_bot_at_start(tmp_path: Path) -> None:
    """Telegram refuses a keyboard of more than 100 buttons: every patient's /timezone would go
    unanswered. A zone listed twice is one button, not two."""
    zones = sorted(zone for zone in available_timezones() if zone.startswith("America/"))[:101]

    def listing(names: list[str]) -> str:
        return "[checkins]\ncommon_timezones = [" + ", ".join(f'"{n}"' for n in names) + "]\n"

    path = write(tmp_path, listing(zones))
    assert problems(path) == [
        f"{path}: [checkins] common_timezones: 101 zones are more than the 100 buttons "
        "Telegram shows under /timezone; patients can still type any zone with /timezone NAME"
    ]
    settings = load_settings(write(tmp_path, listing(zones[:100] + zones[:3])), {})
    assert settings.checkins.common_timezones == zones[:100]


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    found = problems(
        write(
            tmp_path,
            '[scheduler]\nmessages_per_second = 99\ndefault_timezone = "Mars/Base"\nx = 1\n',
        )
    )
    assert len(found) == 3


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    found = problems(write(tmp_path, ""), {"TELEGRAM_API_BASE_URL": "api.telegram.org"})
    assert found == [
        "environment variable TELEGRAM_API_BASE_URL: [telegram] api_base_url: "
        "must start with http:// or https://"
    ]


def test_a_config_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows Notepad starts a UTF-8 file with U+FEFF; that used to be "not valid TOML"."""
    path = tmp_path / "config.toml"
    path.write_text("[scheduler]\nmessages_per_second = 10\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_settings(path, {}).scheduler.messages_per_second == 10


def test_broken_toml_is_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[telegram\ntoken = 1\n")
    code = main(["--config", str(path), "db", "current"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{path}: not valid TOML")
    assert "Traceback" not in err


def test_webhook_mode_needs_a_secret_and_a_public_url(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\nmode = "webhook"\n')
    found = problems(path, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert any("webhook_secret: required" in p for p in found)


def test_the_token_is_not_shown_by_the_settings(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


def test_the_token_never_reaches_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", "text", [TOKEN])
    try:
        logging.getLogger("httpx").warning(
            "HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN
        )
        try:
            raise RuntimeError(f"failed calling https://api.telegram.org/bot{TOKEN}/sendMessage")
        except RuntimeError:
            logging.getLogger("telegram.ext").exception("Network trouble")
        setup_logging("INFO", "json", [TOKEN])
        logging.getLogger("bot").error("token is %s", TOKEN)
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "Network trouble" in err
    assert "[REDACTED]" in err
    assert TOKEN not in err


# Without a token `patientbot run` now opens the playground (issue #9); the @BotFather
# explanation it still prints is checked in tests/playground/test_cli.py.


def test_the_erasure_key_is_the_configured_one_else_the_tokens_and_never_shown(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, f'[telegram]\ntoken = "{TOKEN}"\n')
    derived = load_settings(path, {}).erasure_key
    assert derived == load_settings(path, {}).erasure_key, "the same token, the same key"
    assert TOKEN.encode() not in derived and len(derived) == 32
    other_token = load_settings(path, {"TELEGRAM_BOT_TOKEN": "42:another-token"}).erasure_key
    assert other_token != derived
    configured = load_settings(path, {"PATIENTBOT_ERASURE_KEY": "k" * 64})
    assert configured.erasure_key == b"k" * 64
    assert "k" * 64 not in repr(configured) and "k" * 64 not in str(configured.model_dump())
    assert load_settings(write(tmp_path, ""), {}).erasure_key, "the playground has one too"
