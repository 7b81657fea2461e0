"""The process's entry point: ``patientbot`` and ``python -m bot`` both start here, so that
the command's imports run without the garbage collector (``bot.collector``)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.collector import collector_paused


def main(argv: Sequence[str] | None = None) -> int:
    with collector_paused(then_freeze=True):
        from bot.cli import main as run_command
    return run_command(argv)
