"""Draw the charts with matplotlib: imported only by ``bot.charts`` in its drawing threads.

Figures are built with ``Figure`` and the Agg canvas directly, never ``pyplot``: no global
state, so a figure can be drawn in a worker thread (matplotlib's advice for web servers).
``progress_figure`` and ``heatmap_figure`` return the figure before it is drawn, so tests read
the plotted values from it. Every word comes from ``bot.texts.charts``.

Sizes are for a phone: 1080 px wide (7.2 in at 150 dpi) with text of 13 pt or more, which
Telegram shows full width. Colours are the Okabe-Ito palette, told apart with every common
colour-vision deficiency; expired cells are hatched as well as coloured.

Text is drawn in DejaVu Sans, the font matplotlib ships: the one font sure to be wherever the
bot runs (the Docker image installs none, and CI's colour emoji font is a bitmap font
matplotlib cannot scale). It has Latin, Greek, Cyrillic and many symbols, the emoticons (😀)
too, but not most emoji (🦶) nor CJK: a character it lacks was drawn as an empty box, with a
warning on stderr. So every text passes through ``drawable``, which leaves such characters
out; the caption, which Telegram draws with its own fonts, keeps them.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
from datetime import date, timedelta
from typing import Any, Literal

from matplotlib import font_manager, rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from bot.services.progress import (
    MAX_HEATMAP_ROWS,
    MAX_TRENDS,
    GroupHeatmap,
    Outcome,
    PatientProgress,
    Trend,
)
from bot.texts import charts as texts_charts
from bot.texts.language import content

DPI = 150
WIDTH_IN = 7.2  # 1080 px
FONT = 13
SMALL = 11
MARKER = 5  # an answer's marker, points across
LABEL_PAD = 1  # points around the alert label's white box

COLOURS: dict[Outcome, str] = {
    Outcome.COMPLETED: "#0072B2",  # blue
    Outcome.PARTIAL: "#56B4E9",  # sky blue
    Outcome.OPEN: "#BBBBBB",  # grey: not decided yet
    Outcome.MISSED: "#D55E00",  # vermillion
    Outcome.EXPIRED: "#E69F00",  # orange, hatched
}
NO_CHECKIN = "#F4F4F4"
LINE = "#0072B2"
ALERT = "#D55E00"
EDGE = "#555555"
HATCH = "///"


# A therapist's words are drawn as written: matplotlib would read text between two "$" as a
# formula, losing "$5 to $10"'s signs, and failing the whole chart on one it cannot parse
# ("$^$"). Set for the process: the charts are its only use of matplotlib, and every text of a
# figure (titles, tick labels, legends) takes it when made.
rcParams["text.parse_math"] = False

Weight = Literal["normal", "bold"]


@functools.cache
def _glyphs(weight: Weight) -> frozenset[int]:
    """The characters the charts' font has a glyph for (its character map, by FreeType)."""
    path = font_manager.findfont(font_manager.FontProperties(weight=weight))
    return frozenset(font_manager.get_font(path).get_charmap())


def drawable(text: str, weight: Weight = "normal") -> str:
    """``text`` without the characters the charts' font cannot draw (most emoji, CJK): each
    would be an empty box and a warning. A space the font lacks (a tab) becomes a space; the
    gaps left are closed, so "Ankle 🦶 check" reads "Ankle check"."""
    glyphs = _glyphs(weight)
    if all(ord(c) in glyphs for c in text):
        return text
    kept = "".join(
        c if ord(c) in glyphs or c == "\n" else " " if c.isspace() else "" for c in text
    )
    return re.sub(" {2,}", " ", kept).strip(" ")


def png(figure: Figure) -> bytes:
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _legend(figure: Figure, outcomes: tuple[Outcome, ...], y: float) -> None:
    words = texts_charts.labels().outcomes
    handles = [
        Patch(
            facecolor=COLOURS[o],
            edgecolor=EDGE,
            hatch=HATCH if o == Outcome.EXPIRED else None,
            label=drawable(words[o]),
        )
        for o in outcomes
    ]
    figure.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, y),
        ncol=min(len(handles), 3),
        frameon=False,
        fontsize=FONT,
        handlelength=1.4,
        columnspacing=1.2,
    )


def _cell(x: float, y: float, width: float, height: float, outcome: Outcome) -> Rectangle:
    return Rectangle(
        (x, y),
        width,
        height,
        facecolor=COLOURS[outcome],
        edgecolor=EDGE,
        linewidth=0.8,
        hatch=HATCH if outcome == Outcome.EXPIRED else None,
    )


# --- a patient's progress -------------------------------------------------------------------


def progress_figure(progress: PatientProgress, for_patient: bool) -> Figure:
    """The calendar strip (a row a week, a cell a check-in) and a panel per trend."""
    words = texts_charts.labels()
    # The therapist's and the patient's words, less what the font lacks, before they are
    # composed into titles: "Pain now? (Ankle daily check)", not "(Ankle daily check )".
    progress = dataclasses.replace(progress, name=drawable(progress.name, "bold"))
    trends = [
        dataclasses.replace(
            t,
            task_title=drawable(content(t.task_title)),
            question=drawable(content(t.question)),
        )
        for t in progress.trends[:MAX_TRENDS]
    ]
    # Laid out in inches from the top: title, legend, weekday names, the strip, the panels.
    strip_top, strip_in = 1.75, 3.4
    panel_in, panel_gap = 1.9, 0.6
    height = strip_top + strip_in + 0.35 + (panel_in + panel_gap) * len(trends)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)  # a renderer to measure the alert labels with (``_trend``)

    def box(
        left: float, top_in: float, width: float, height_in: float
    ) -> tuple[float, float, float, float]:
        return (left, 1 - (top_in + height_in) / height, width, height_in / height)

    figure.suptitle(
        drawable(texts_charts.progress_title(progress, for_patient), "bold"),
        fontsize=FONT + 3,
        fontweight="bold",
        y=1 - 0.15 / height,
        va="top",
    )
    _legend(figure, tuple(Outcome), 1 - 0.55 / height)
    _calendar(figure.add_axes(box(0.15, strip_top, 0.82, strip_in)), progress, words)
    top = strip_top + strip_in + 0.35
    for trend in trends:
        axes = figure.add_axes(box(0.1, top + 0.45, 0.86, panel_in - 0.45))
        _trend(axes, trend, progress.first_day, progress.today)
        top += panel_in + panel_gap
    return figure


def _calendar(axes: Any, progress: PatientProgress, words: texts_charts.ChartLabels) -> None:
    weeks = (progress.today - progress.first_day).days // 7 + 1
    by_day = {d.day: d.outcomes for d in progress.days}
    cells: list[Rectangle] = []
    for offset in range((progress.today - progress.first_day).days + 1):
        day = progress.first_day + timedelta(days=offset)
        column, row = day.weekday(), offset // 7
        outcomes = by_day.get(day, ())
        if not outcomes:
            cells.append(
                Rectangle((column + 0.05, row + 0.05), 0.9, 0.9, facecolor=NO_CHECKIN, lw=0)
            )
            continue
        # One slice per check-in of the day, side by side.
        width = 0.9 / len(outcomes)
        for n, outcome in enumerate(outcomes):
            cells.append(_cell(column + 0.05 + n * width, row + 0.05, width, 0.9, outcome))
    # Patches one by one: a collection would lose the hatching of expired cells.
    for cell in cells:
        axes.add_patch(cell)
    today = progress.today
    today_row = (today - progress.first_day).days // 7
    axes.add_patch(
        Rectangle(
            (today.weekday() + 0.01, today_row + 0.01), 0.98, 0.98, fill=False, lw=3, ec="black"
        )
    )
    axes.set_xlim(0, 7)
    axes.set_ylim(weeks, 0)
    axes.set_xticks(
        [c + 0.5 for c in range(7)], [drawable(w) for w in words.weekdays], fontsize=FONT
    )
    axes.xaxis.tick_top()
    axes.set_yticks(
        [r + 0.5 for r in range(weeks)],
        [
            drawable(texts_charts.short_date(progress.first_day + timedelta(weeks=r)))
            for r in range(weeks)
        ],
        fontsize=FONT,
    )
    axes.tick_params(length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    if not progress.days:
        axes.text(
            3.5, weeks / 2, drawable(words.no_checkins), ha="center", va="center", fontsize=FONT
        )


def _trend(axes: Any, trend: Trend, first_day: date, today: date) -> None:
    """Answers by day (x = days since the strip's first day), and the alert threshold.

    Today's answer is the last x (``span``); the plot goes on past it, so its marker is whole
    and the threshold's label, at the right edge, has room of its own: it covered the latest
    answer (pain 8 under "alert >= 7").
    """
    xs = [(p.day - first_day).days for p in trend.points]
    ys = [p.value for p in trend.points]
    axes.plot(xs, ys, color=LINE, marker="o", markersize=MARKER, linewidth=2.2)
    span = (today - first_day).days
    right = span + 1.0  # a day (about 18 px) past today: room for its marker (10 px across)
    threshold = trend.alert_threshold
    if threshold is not None:
        axes.axhline(threshold, color=ALERT, linestyle="--", linewidth=2)
        label = axes.text(
            1,
            threshold,
            drawable(texts_charts.alert_label(trend)),
            color=ALERT,
            fontsize=SMALL,
            ha="right",
            va="bottom",
            transform=axes.get_yaxis_transform(),
            bbox={"facecolor": "white", "edgecolor": "none", "pad": LABEL_PAD, "alpha": 0.85},
        )
        right = max(right, _past_today_for(axes, label, span))
    axes.set_xlim(-0.5, right)
    if trend.low is not None and trend.high is not None:
        pad = (trend.high - trend.low) * 0.05 or 0.5
        axes.set_ylim(trend.low - pad, trend.high + pad)
    ticks = list(range(0, span + 1, 14))
    axes.set_xticks(
        ticks, [drawable(texts_charts.short_date(first_day + timedelta(days=t))) for t in ticks]
    )
    axes.tick_params(labelsize=SMALL + 1)
    axes.grid(axis="y", color="#DDDDDD")
    axes.set_title(drawable(texts_charts.trend_title(trend)), fontsize=FONT, loc="left")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _past_today_for(axes: Any, label: Any, span: int) -> float:
    """The right x-limit that leaves the plot's width past today (x = ``span``) to the label,
    right-aligned at the edge: its width as drawn (measured, so in any language), its box,
    half of today's marker and a gap, in pixels."""
    figure = axes.get_figure()
    points = figure.dpi / 72
    width = axes.get_window_extent().width
    needed = (
        label.get_window_extent(figure.canvas.get_renderer()).width
        + (2 * LABEL_PAD + MARKER / 2 + 3) * points
    )
    needed = min(needed, width / 2)  # a label that long keeps half the plot, not all of it
    # The x-range is right + 0.5 days wide, (right - span) of them past today:
    # (right - span) / (right + 0.5) * width == needed.
    return (span * width + 0.5 * needed) / (width - needed)


# --- a group's adherence --------------------------------------------------------------------


_OUTCOME_INDEX = {o: n + 1 for n, o in enumerate(COLOURS)}
_HEATMAP_COLOURS = ListedColormap([NO_CHECKIN, *COLOURS.values()])


def heatmap_figure(heatmap: GroupHeatmap) -> Figure:
    """Patients (those needing attention on top) by days; a cell is the day's outcome."""
    # The group's and the patients' names, less what the font lacks; a name left empty
    # shows the Telegram id, as for a patient without a name.
    heatmap = dataclasses.replace(heatmap, group_name=drawable(heatmap.group_name, "bold"))
    rows = [dataclasses.replace(r, name=drawable(r.name)) for r in heatmap.rows[:MAX_HEATMAP_ROWS]]
    days = (heatmap.today - heatmap.first_day).days + 1
    row_in = 0.36
    height = 2.2 + row_in * max(len(rows), 3)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    figure.suptitle(
        drawable(texts_charts.heatmap_title(heatmap), "bold"),
        fontsize=FONT + 2,
        fontweight="bold",
        y=1 - 0.25 / height,
    )
    _legend(figure, tuple(Outcome), 1 - 0.5 / height)
    axes = figure.add_axes((0.29, 0.5 / height, 0.65, 1 - 2.0 / height))
    grid = [[0] * days for _ in rows]
    hatched: list[Rectangle] = []
    for r, row in enumerate(rows):
        for found in row.days:
            column = (found.day - heatmap.first_day).days
            if 0 <= column < days:
                outcome = found.summary
                grid[r][column] = _OUTCOME_INDEX[outcome]
                if outcome == Outcome.EXPIRED:
                    hatched.append(Rectangle((column - 0.5, r - 0.5), 1, 1))
    axes.imshow(
        grid or [[0] * days],
        cmap=_HEATMAP_COLOURS,
        vmin=0,
        vmax=len(COLOURS),
        aspect="auto",
        interpolation="nearest",
    )
    if hatched:
        axes.add_collection(
            PatchCollection(hatched, facecolor="none", edgecolor=EDGE, hatch=HATCH, lw=0)
        )
    # Thin white lines between cells keep neighbours apart at phone size.
    # (Two line collections: minor ticks with grid lines cost a Tick object per line.)
    axes.vlines([c - 0.5 for c in range(days + 1)], -0.5, len(rows) - 0.5, color="white", lw=1.2)
    axes.hlines([r - 0.5 for r in range(len(rows) + 1)], -0.5, days - 0.5, color="white", lw=1.2)
    names = [
        drawable(texts_charts.display_name(r.name, r.data_deleted, r.telegram_user_id))[:18]
        for r in rows
    ]
    axes.set_yticks(range(len(rows)), names, fontsize=SMALL + 1)
    ticks = list(range(days - 1, -1, -7))[::-1]
    axes.set_xticks(
        ticks,
        [drawable(texts_charts.short_date(heatmap.first_day + timedelta(days=t))) for t in ticks],
        fontsize=SMALL + 1,
    )
    for side in axes.spines.values():
        side.set_visible(False)
    hidden = len(heatmap.rows) - len(rows)
    if hidden:
        axes.set_xlabel(drawable(texts_charts.heatmap_more(hidden)), fontsize=SMALL)
    return figure
