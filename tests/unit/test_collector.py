"""Start-up pauses the garbage collector (``bot.collector``); the process must get it back."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from bot.collector import collector_paused


def _fail_while_paused(seen: list[bool]) -> None:
    with collector_paused():
        seen.append(gc.isenabled())
        raise RuntimeError("an import failed")


def test_the_collector_is_back_after_the_block_even_when_the_block_fails() -> None:
    assert gc.isenabled()
    seen: list[bool] = []
    with pytest.raises(RuntimeError):
        _fail_while_paused(seen)
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_command_runs_with_the_collector_on() -> None:
    program = (
        "import gc, sys\n"
        "import bot.cli\n"
        "seen = []\n"
        "bot.cli._parser = lambda: seen.append(gc.isenabled()) or sys.exit(0)\n"
        "from bot.launch import main\n"
        "try:\n"
        "    main(['db', 'current'])\n"
        "finally:\n"
        "    print(seen)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[True]"


def test_what_a_paused_block_made_is_frozen_only_when_asked_and_only_if_it_succeeded() -> None:
    try:
        before = gc.get_freeze_count()
        with collector_paused():
            made = [[index] for index in range(1000)]
        assert gc.get_freeze_count() == before
        with collector_paused(then_freeze=True):
            made = [[index] for index in range(1000)]
        assert gc.get_freeze_count() >= before + len(made)
        gc.unfreeze()
        with pytest.raises(RuntimeError), collector_paused(then_freeze=True):
            raise RuntimeError("the webhook settings were refused")
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
