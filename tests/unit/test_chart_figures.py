"""What the charts draw: only characters their font has, and data the labels leave uncovered.

The figures are built from the use cases' dataclasses, drawn to PNG (so matplotlib has laid
out every text, tick labels too), then read back: behaviour, not pixels.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from bot import chart_figures
from bot.services.progress import (
    DayCheckins,
    GroupHeatmap,
    HeatmapRow,
    Outcome,
    PatientProgress,
    Tally,
    Trend,
    TrendPoint,
)
from bot.services.responses import AlertOp, AlertRule
from bot.texts.language import speaking

TODAY = date(2025, 12, 22)  # a Monday: the strip's last row is today alone
FIRST_DAY = TODAY - timedelta(weeks=7)
FOOT = "\N{FOOT}"  # not in DejaVu Sans, the charts' font (matplotlib's own, so everywhere)
CHERRY = "\N{CHERRY BLOSSOM}"
SMILE = "\N{GRINNING FACE}"  # DejaVu Sans has the emoticons block: kept
DAYS = (DayCheckins(TODAY, (Outcome.COMPLETED,)),)


def trend(
    values: list[float],
    title: str = "Daily check",
    question: str = "Pain now?",
    alert: AlertRule | None = None,
) -> Trend:
    """Answers on the last ``len(values)`` days, the latest today."""
    points = tuple(
        TrendPoint(TODAY - timedelta(days=len(values) - 1 - n), value)
        for n, value in enumerate(values)
    )
    return Trend(1, title, question, 0, 10, alert, points)


def progress(*trends: Trend, name: str = "Alice Test") -> PatientProgress:
    return PatientProgress(name, False, TODAY, FIRST_DAY, DAYS, Tally(completed=1), 1, trends)


def drawn(figure: Figure) -> list[Text]:
    """Draw the figure as the bot does and return every text in it, laid out."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart_figures.png(figure)
    glyph_warnings = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert glyph_warnings == []
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text()]


def missing_glyphs(text: Text) -> set[str]:
    """Characters of a text that its own font (read with FreeType) has no glyph for."""
    path = font_manager.findfont(text.get_fontproperties())
    charmap = font_manager.get_font(path).get_charmap()
    return {c for c in text.get_text() if ord(c) not in charmap and c != "\n"}


def test_emoji_the_font_lacks_are_left_out_of_a_progress_chart_without_a_warning() -> None:
    found = progress(
        trend([2, 5, 4, 8], title=f"Ankle daily check {FOOT}", question=f"Pain now? {SMILE}"),
        name=f"Ana {CHERRY}",
    )
    texts = drawn(chart_figures.progress_figure(found, for_patient=False))

    assert {t.get_text(): missing_glyphs(t) for t in texts if missing_glyphs(t)} == {}
    words = [t.get_text() for t in texts]
    # The rest of each text stays, without a gap where the emoji was; what the font has stays.
    assert "Ana · last 8 weeks" in words
    assert f"Pain now? {SMILE} (Ankle daily check)" in words


def test_a_heatmap_leaves_out_what_the_font_lacks_and_names_an_undrawable_patient_by_id() -> None:
    rows = (
        HeatmapRow(1001, f"Bo {FOOT}", False, DAYS, Tally(completed=1)),
        # A name in a script the font does not have: the id, as for a patient without a name.
        HeatmapRow(1002, "\u674e\u660e", False, DAYS, Tally(completed=1)),
    )
    heatmap = GroupHeatmap(f"Ankles {FOOT}", FIRST_DAY + timedelta(weeks=4), TODAY, rows)
    figure = chart_figures.heatmap_figure(heatmap)
    texts = drawn(figure)

    assert {t.get_text(): missing_glyphs(t) for t in texts if missing_glyphs(t)} == {}
    assert "Ankles · adherence, last 4 weeks" in [t.get_text() for t in texts]
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["Bo", "1002"]


def test_a_translated_chart_draws_only_what_its_font_has() -> None:
    with speaking("de"):
        found = progress(trend([3, 8], title=f"Knöchel {FOOT}", alert=AlertRule(">=", "7")))
        texts = drawn(chart_figures.progress_figure(found, for_patient=True))
    assert {t.get_text(): missing_glyphs(t) for t in texts if missing_glyphs(t)} == {}


def test_drawable_keeps_what_the_font_has_and_tidies_the_gaps() -> None:
    assert chart_figures.drawable(f"{FOOT} Ankle {FOOT} check {FOOT}") == "Ankle check"
    assert chart_figures.drawable("Knöchel – Übung · 5…") == "Knöchel – Übung · 5…"
    assert chart_figures.drawable(f"tab\there {SMILE}") == f"tab here {SMILE}"
    assert chart_figures.drawable(FOOT) == ""


# --- room for the latest answer -------------------------------------------------------------


def marker_boxes(figure: Figure) -> list[tuple[float, float, float, float]]:
    """Each answer's marker in pixels (x0, y0, x1, y1), from its centre and size."""
    axes = figure.axes[1]
    line = axes.lines[0]
    radius = line.get_markersize() / 2 * figure.dpi / 72 + line.get_markeredgewidth()
    centres = axes.transData.transform(list(zip(line.get_xdata(), line.get_ydata(), strict=True)))
    return [(x - radius, y - radius, x + radius, y + radius) for x, y in centres]


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("language", ["en", "de", "es"])
@pytest.mark.parametrize(
    ("op", "value", "values"),
    [(">=", "7", [3, 5, 6, 8]), (">=", "7", [7, 7, 7, 7]), ("<=", "2.5", [2, 2, 3, 2])],
)
def test_the_alert_label_covers_no_answer_and_the_latest_is_whole(
    language: str, op: AlertOp, value: str, values: list[float]
) -> None:
    """Pain 8 today under "alert >= 7": the label's white box hid half the point."""
    with speaking(language):
        figure = chart_figures.progress_figure(
            progress(trend(values, alert=AlertRule(op, value))), for_patient=True
        )
        texts = drawn(figure)
    (label,) = [t for t in texts if t.get_text().endswith(value) and t.axes is figure.axes[1]]
    patch = label.get_bbox_patch()
    assert patch is not None
    box = patch.get_window_extent().extents
    area = figure.axes[1].get_window_extent()
    markers = marker_boxes(figure)
    assert [m for m in markers if overlaps(m, tuple(box))] == []
    # The latest answer (today) is whole inside the plot, with room to spare.
    assert markers[-1][2] < area.x1


def test_the_latest_answer_has_room_without_an_alert_line() -> None:
    figure = chart_figures.progress_figure(progress(trend([1, 9])), for_patient=True)
    drawn(figure)
    assert marker_boxes(figure)[-1][2] < figure.axes[1].get_window_extent().x1


def test_dollar_signs_in_a_therapists_words_are_drawn_as_written_not_as_formulas() -> None:
    """Matplotlib reads text between two "$" as a formula: "$^$" failed the whole chart
    (a parse error), and "$5 to $10" lost its signs."""
    found = progress(trend([2, 5, 8], title="Cost $^$ check", question="Paid $5 to $10?"))

    words = [t.get_text() for t in drawn(chart_figures.progress_figure(found, for_patient=False))]

    assert "Paid $5 to $10? (Cost $^$ check)" in words
    rows = (HeatmapRow(1001, "Bo $^$", False, DAYS, Tally(completed=1)),)
    heatmap = GroupHeatmap("Ankles $^$", FIRST_DAY + timedelta(weeks=4), TODAY, rows)
    figure = chart_figures.heatmap_figure(heatmap)
    drawn(figure)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["Bo $^$"]
