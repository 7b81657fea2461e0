"""The garbage collector while the bot starts.

Starting imports about 900 modules and builds the Application: 180,000 tracked objects that live
as long as the process. With the collector on, its passes walk that growing heap again and
again while nothing in it can be garbage yet: measured, about 80 ms of a 650 ms import, and a
full pass inside httpx's imports during the build (``benchmarks/bench_startup.py``).
``serving_runtime`` (``bot.app``) then freezes what was built, so later passes skip it too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collection inside the block; the collector is back as it was afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
