"""The garbage collector while the bot starts.

Starting imports about 900 modules and builds the Application: 180,000 tracked objects that live
as long as the process. With the collector on, its passes walk that growing heap again and
again while nothing in it can be garbage yet: measured, about 80 ms of a 650 ms import, and a
full pass inside httpx's imports during the build (``benchmarks/bench_startup.py``).
Frozen as the pause ends, none of it is walked again; ``serving_runtime`` (``bot.app``)
unfreezes it when the bot stops.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(*, then_freeze: bool = False) -> Iterator[None]:
    """No collection inside the block; the collector is back as it was afterwards.

    ``then_freeze``: what the block made lives as long as the process, so it is frozen before
    the collector comes back (when the block ends without an error). Else the first object
    made after it would set off a pass over all of it: measured, 30 ms after the command's
    imports and 12 ms after the build.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if then_freeze:
            gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
