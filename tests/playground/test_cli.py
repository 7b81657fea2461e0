"""`patientbot run` without a token: the playground opens, and the terminal says where."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def test_run_without_a_token_opens_the_playground_and_explains_how_to_get_one(
    tmp_path: Path,
) -> None:
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/bot.db"\n[playground]\nport = {port}\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PATIENTBOT_"))}
    with (tmp_path / "stderr.log").open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        printed: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_lines, args=(process.stdout, printed), daemon=True)
        reader.start()
        try:
            seen: list[str] = []
            deadline = time.monotonic() + 60
            while not any(line.startswith("Playground: open") for line in seen):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no playground address printed: {seen}"
                seen.append(printed.get(timeout=remaining))
            output = "".join(seen)
            assert "@BotFather" in output
            assert "TELEGRAM_BOT_TOKEN" in output
            url = f"http://127.0.0.1:{port}"
            assert f"Playground: open {url}" in output

            with urllib.request.urlopen(url, timeout=10) as page:
                assert "patientbot playground" in page.read().decode()
            # The demo seed was loaded on this first start: its invite code works.
            state = _post(f"{url}/api/send", {"user": 880_000_101, "text": "/start SHOULDER1"})
            answer = state["chats"]["880000101"][-1]["text"]
            assert "You have joined Shoulder Therapy 1" in answer
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
            reader.join(timeout=5)
            assert process.stdout is not None
            process.stdout.close()
    assert code == 0, (tmp_path / "stderr.log").read_text()
