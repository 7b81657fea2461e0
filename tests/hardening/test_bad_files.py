"""Damaged seed and config files get a clear error naming the file, and write nothing.

Hypothesis damages the shipped files (``seed_data/demo.toml``, ``config.toml``) the ways files
get damaged: flipped bytes, a cut-off end, lines deleted, duplicated or swapped, values of the
wrong type or absurd size, keys nobody knows, bytes that are not UTF-8. Each damaged file goes
through ``patientbot`` itself (``bot.cli.main``, in-process for speed; a few through a real
process as well), against a database the demo was already seeded into:

- a file that cannot be used gives a non-zero exit code and only lines that name the file (or
  the environment variable), never a traceback;
- nothing is written: every row of every table is as it was;
- a file the damage left usable seeds as usual (exit code 0).

``PATIENTBOT_BAD_FILE_EXAMPLES`` sets the number of damaged files per test and backend (default
60); ``PATIENTBOT_FUZZ_RANDOM=1`` draws new damage instead of the same fixed sequence.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import ConfigError, load_settings
from storage.db import Database
from tests.conftest import clean_environment, fresh_database_url
from tests.fakes.snapshots import Rows, read_rows, restore

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "seed_data" / "demo.toml"
CONFIG = ROOT / "config.toml"
EXAMPLES = int(os.environ.get("PATIENTBOT_BAD_FILE_EXAMPLES", "60"))
RANDOM = os.environ.get("PATIENTBOT_FUZZ_RANDOM", "") not in ("", "0")

# Values of every TOML type, and sizes no column was made for.
LITERALS = [
    "5",
    "-1",
    "0",
    "9223372036854775807",
    "99999999999999999999999",
    "1e400",
    "-inf",
    "nan",
    "0.0001",
    "true",
    '""',
    '"   "',
    '"x"',
    '"today 11:00"',
    '"Mars/Olympus"',
    '"<b>bold</b> & co"',
    '"\\u0000"',
    '"' + "x" * 300 + '"',
    '"' + "Long description. " * 70 + '"',
    '"https://' + "a" * 600 + '.example"',
    "[]",
    '[1, "a"]',
    '["Left", "Left"]',
    "{ a = 1 }",
    "1979-05-27",
    "07:32:00",
    "1979-05-27T07:32:00Z",
]
KEYS = ["colour", "name", "title", "type", "due", "options", "max", "url", "level", "port"]


@dataclass(frozen=True)
class Damage:
    """One change to a file's bytes; positions wrap around the file's length."""

    kind: str
    at: int
    other: int = 0
    text: str = ""
    blob: bytes = b""

    def apply(self, data: bytes) -> bytes:
        lines = data.split(b"\n")
        line = self.at % len(lines)
        if self.kind == "flip":
            if not data:
                return data
            i = self.at % len(data)
            return data[:i] + bytes([data[i] ^ (1 + self.other % 255)]) + data[i + 1 :]
        if self.kind == "truncate":
            return data[: self.at % (len(data) + 1)]
        if self.kind == "delete_line":
            return b"\n".join(lines[:line] + lines[line + 1 :])
        if self.kind == "duplicate_line":
            return b"\n".join(lines[: line + 1] + lines[line:])
        if self.kind == "swap_lines":
            other = self.other % len(lines)
            lines[line], lines[other] = lines[other], lines[line]
            return b"\n".join(lines)
        if self.kind == "retype":
            # The value of the n-th "key = value" line becomes a value of another type.
            assignments = [i for i, raw in enumerate(lines) if b"=" in raw and b"#" not in raw]
            if not assignments:
                return data
            index = assignments[self.at % len(assignments)]
            key = lines[index].split(b"=", 1)[0]
            lines[index] = key + b"= " + self.text.encode()
            return b"\n".join(lines)
        if self.kind == "add_key":
            lines.insert(line, self.text.encode())
            return b"\n".join(lines)
        if self.kind == "insert_bytes":
            i = self.at % (len(data) + 1)
            return data[:i] + self.blob + data[i:]
        raise AssertionError(self.kind)


DAMAGE = st.one_of(
    st.builds(Damage, st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.builds(Damage, st.just("truncate"), st.integers(0, 10**6)),
    st.builds(Damage, st.just("delete_line"), st.integers(0, 10**6)),
    st.builds(Damage, st.just("duplicate_line"), st.integers(0, 10**6)),
    st.builds(Damage, st.just("swap_lines"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.builds(Damage, st.just("retype"), st.integers(0, 10**6), text=st.sampled_from(LITERALS)),
    st.builds(Damage, st.just("retype"), st.integers(0, 10**6), text=st.sampled_from(LITERALS)),
    st.builds(
        Damage,
        st.just("add_key"),
        st.integers(0, 10**6),
        text=st.builds(
            lambda key, value: f"{key} = {value}", st.sampled_from(KEYS), st.sampled_from(LITERALS)
        ),
    ),
    st.builds(
        Damage,
        st.just("insert_bytes"),
        st.integers(0, 10**6),
        blob=st.one_of(
            st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf"]),
            st.binary(min_size=1, max_size=4),
        ),
    ),
)
DAMAGES = st.lists(DAMAGE, min_size=1, max_size=3)


@contextlib.contextmanager
def patientbot_output() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Capture what ``patientbot`` prints; put back the logging it sets up for itself."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def run_patientbot(*args: str) -> tuple[int, str]:
    with patientbot_output() as (out, err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


def problem_lines(output: str) -> list[str]:
    """The lines printed, blank ones left out."""
    return [line for line in output.splitlines() if line.strip()]


def settings_for(database: Database, tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    return config


@pytest.fixture
def seeded(database: Database, tmp_path: Path) -> Rows:
    code, output = run_patientbot(
        "--config", str(settings_for(database, tmp_path)), "seed", str(DEMO)
    )
    assert code == 0, output
    return read_rows(database)


def hypothesis_settings() -> hsettings:
    return hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def test_a_damaged_seed_file_is_refused_clearly_and_writes_nothing(
    database: Database, tmp_path: Path, seeded: Rows, backend: str
) -> None:
    config = settings_for(database, tmp_path)
    original = DEMO.read_bytes()
    seen = Counter[str]()

    @hypothesis_settings()
    @given(DAMAGES)
    def damaged(damages: list[Damage]) -> None:
        data = original
        for damage in damages:
            data = damage.apply(data)
        path = tmp_path / "damaged.toml"
        path.write_bytes(data)
        code, output = run_patientbot("--config", str(config), "seed", str(path))
        assert "Traceback" not in output, output
        after = read_rows(database)
        if code == 0:
            seen["accepted"] += 1
            restore(database, seeded)
            return
        seen["refused"] += 1
        assert code == 1, output
        lines = problem_lines(output)
        # Every problem names the file; the last line says nothing was written.
        assert all(line.startswith(f"{path}: ") for line in lines[:-1]), output
        assert "Nothing was written" in lines[-1], output
        assert after == seeded, f"a refused seed changed the database:\n{output}"

    damaged()
    print(f"\n[{backend}] damaged seed files: {dict(seen)}")
    assert seen["refused"] >= EXAMPLES // 3, seen


def test_a_damaged_config_file_is_refused_clearly_and_nothing_runs(
    database: Database,
    tmp_path: Path,
    seeded: Rows,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whatever the damaged file says, the database is the test's (the environment wins).
    for variable in ("PATIENTBOT_CONFIG", "TELEGRAM_BOT_TOKEN", "PATIENTBOT_LOG_LEVEL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATIENTBOT_DATABASE_URL", database.url)
    original = CONFIG.read_bytes()
    seen = Counter[str]()

    @hypothesis_settings()
    @given(DAMAGES)
    def damaged(damages: list[Damage]) -> None:
        data = original
        for damage in damages:
            data = damage.apply(data)
        path = tmp_path / "damaged-config.toml"
        path.write_bytes(data)
        problems: list[str] | None = None
        try:
            load_settings(path)
        except ConfigError as error:
            problems = error.problems
        if problems is not None:
            assert problems
            for problem in problems:
                assert problem.startswith((f"{path}: ", "environment variable ")), problem
        code, output = run_patientbot("--config", str(path), "seed", str(DEMO))
        assert "Traceback" not in output, output
        after = read_rows(database)
        if code == 0:
            seen["accepted"] += 1
            if after != seeded:
                restore(database, seeded)
            return
        seen["refused"] += 1
        assert code == 2, output
        assert all(
            line.startswith((f"{path}: ", "environment variable "))
            for line in problem_lines(output)
        ), output
        assert after == seeded, f"a refused config changed the database:\n{output}"

    damaged()
    print(f"\n[{backend}] damaged config files: {dict(seen)}")
    assert seen["refused"] >= EXAMPLES // 4, seen


DEMO_TEXT = DEMO.read_text(encoding="utf-8")
# Damage that crashed the seed (an unknown zone) or got as far as the database, which refused
# it as "Cannot use the database" (PostgreSQL) or stored it (SQLite): values too big for a column.
UNUSABLE = {
    "a title": (
        'title = "Shoulder pain check"',
        f'title = "{"x" * 201}"',
        "tasks[4].title: must be at most 200 characters",
    ),
    "a question": (
        'text = "Which side felt harder?"',
        f'text = "{"x" * 1001}"',
        "tasks[5].questions[2].text: must be at most 1000 characters",
    ),
    "a link": (
        'link = "https://www.youtube.com/watch?v=wPM8icPu6H8"',
        f'link = "https://{"a" * 500}.example"',
        "tasks[5].questions[1].link: must be at most 500 characters",
    ),
    "a group name": (
        'name = "Hip Therapy 1"',
        f'name = "{"H" * 201}"',
        "groups[2].name: must be at most 200 characters",
    ),
    "a number of uses": (
        'invite = "HIP1"',
        'invite = "HIP1"\ninvite_max_uses = 99999999999999',
        "groups[2].invite_max_uses: must be a whole number from 1 to 2147483647",
    ),
    "an unknown time zone": (
        'timezone = "Europe/London"\ninvite = "HIP1"',
        'timezone = "Durope/London"\ninvite = "HIP1"',
        "groups[2].timezone: 'Durope/London' is not an IANA time zone name",
    ),
    "a text limit": (
        "max_length = 500",
        "max_length = 99999999999999",
        "tasks[4].questions[3].max_length: must be a whole number from 1 to 4000",
    ),
}


@pytest.mark.parametrize("what", list(UNUSABLE))
def test_a_seed_value_the_database_cannot_take_is_named_before_anything_is_written(
    database: Database, tmp_path: Path, seeded: Rows, what: str
) -> None:
    # PostgreSQL refused such rows only while writing ("Cannot use the database"); SQLite
    # stored them, longer than the bot itself would ever allow.
    old, new, problem = UNUSABLE[what]
    assert old in DEMO_TEXT
    path = tmp_path / "big.toml"
    path.write_text(DEMO_TEXT.replace(old, new, 1), encoding="utf-8")
    code, output = run_patientbot(
        "--config", str(settings_for(database, tmp_path)), "seed", str(path)
    )
    assert code == 1, output
    assert f"{path}: {problem}" in output
    assert read_rows(database) == seeded


BROKEN_SEED = b'[[groups]]\nname = "Knee\n\xff[[tasks]]\ngroup = 5\n'
BROKEN_CONFIG = b"[database]\nurl = 5\n[scheduler]\nmessages_per_second = 1e400\n\xff"


def test_the_real_command_prints_the_problems_without_a_traceback(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Both files fail before the database is opened, so one backend says it all.
    url = fresh_database_url(request, "sqlite", tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    broken_seed, broken_config = tmp_path / "broken-seed.toml", tmp_path / "broken-config.toml"
    broken_seed.write_bytes(BROKEN_SEED)
    broken_config.write_bytes(BROKEN_CONFIG)
    database = Database(url)
    try:
        before = read_rows(database)
        for args, broken, expected_code in (
            (["--config", str(config), "seed", str(broken_seed)], broken_seed, 1),
            (["--config", str(broken_config), "seed", str(DEMO)], broken_config, 2),
        ):
            result = subprocess.run(
                [sys.executable, "-m", "bot", *args],
                cwd=tmp_path,
                env={**clean_environment(), "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            output = result.stdout + result.stderr
            assert result.returncode == expected_code, output
            assert "Traceback" not in output
            assert str(broken) in output
            assert read_rows(database) == before
    finally:
        database.dispose()
