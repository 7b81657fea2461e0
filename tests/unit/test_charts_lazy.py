"""matplotlib takes about a second to import: the bot starts without it."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_application_does_not_import_matplotlib() -> None:
    program = (
        "import sys\n"
        "from bot.app import build_application\n"
        "from bot.config import Settings\n"
        "import bot.digests, bot.handlers.charts, bot.scheduler\n"
        "build_application(Settings())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
