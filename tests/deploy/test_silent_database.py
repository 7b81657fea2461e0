"""A PostgreSQL server that stops answering costs a bounded wait, then a sentence.

libpq on its own waits for a new connection as long as TCP does (minutes) when the server or
its host goes silent; every session, the due scan's lease renewals and ``/readyz`` would hang
with it. ``storage.db`` gives PostgreSQL engines a ``connect_timeout`` unless the URL names one.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import clean_environment

ROOT = Path(__file__).resolve().parents[2]
# libpq treats anything below 2 s as 2 s.
SHORT_SECONDS = 2
# The command with the default shortened, so that the test need not wait the full default.
COMMAND = (
    "import sys, storage.db; storage.db.POSTGRES_CONNECT_TIMEOUT_SECONDS = int(sys.argv[1]); "
    "from bot.cli import main; raise SystemExit(main(sys.argv[2:]))"
)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose kernel completes the TCP handshake, and then nothing ever answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.parametrize("named_in_the_url", [False, True], ids=["default", "url"])
def test_a_database_that_never_answers_is_given_up_on_with_a_sentence(
    silent_server: int, tmp_path: Path, named_in_the_url: bool
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    url = f"postgresql://patientbot@127.0.0.1:{silent_server}/clinic"
    default = SHORT_SECONDS
    if named_in_the_url:
        # The operator's own value wins over the default, here one far longer.
        url += f"?connect_timeout={SHORT_SECONDS}"
        default = 600
    started = time.monotonic()
    # A wait past the subprocess timeout fails the test instead of hanging it: without a
    # connect_timeout, libpq would still be waiting minutes later.
    result = subprocess.run(
        [sys.executable, "-c", COMMAND, str(default), "--config", str(config), "db", "current"],
        cwd=tmp_path,
        env={**clean_environment(), "PATIENTBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    waited = time.monotonic() - started
    printed = result.stdout + result.stderr
    assert result.returncode == 1, printed
    assert "Cannot use the database at postgresql" in printed
    assert "timeout expired" in printed
    assert "Traceback" not in printed
    assert waited < 10 * SHORT_SECONDS, waited
