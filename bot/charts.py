"""Charts as PNG bytes, drawn off the event loop in two threads of their own.

``render`` runs a drawing function in the chart threads; the functions here import
``bot.chart_figures`` (and so matplotlib, about a second's import) in that thread on first
use, so neither the bot's start nor its event loop waits for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.services.digest import GroupDigest
from bot.services.progress import GroupHeatmap, PatientProgress

T = TypeVar("T")

# Two drawing threads: the machine this runs on has two cores, and a third chart would only
# wait for the GIL. The pool is made on first use, never at import.
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chart")
        return _pool


def _libc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):
        return None  # not glibc: its allocator returns memory its own way


_trim = _libc_trim()


def _draw_and_release(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    finally:
        # A chart allocates ~50 MB in small pieces in this thread's malloc arena; glibc keeps
        # a freed arena's pages unless asked, and the process would stay that much larger.
        if _trim is not None:
            _trim(0)


async def render(function: Callable[..., T], *args: Any) -> T:
    """Run a drawing function in the chart threads; the event loop goes on meanwhile.

    In a copy of this task's context, as ``asyncio.to_thread`` runs one: the reader's
    language is a context variable, and without it every picture was drawn in English."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _executor(), context.run, _draw_and_release, function, *args
    )


def progress_png(progress: PatientProgress, for_patient: bool) -> bytes:
    from bot import chart_figures

    return chart_figures.png(chart_figures.progress_figure(progress, for_patient))


def heatmap_png(heatmap: GroupHeatmap) -> bytes:
    from bot import chart_figures

    return chart_figures.png(chart_figures.heatmap_figure(heatmap))


def digest_png(digest: GroupDigest) -> bytes:
    return heatmap_png(digest.heatmap)
