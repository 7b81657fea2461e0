"""Turn service views into message text and inline keyboards (the only place that does)."""

from __future__ import annotations

import html
import re
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import keyboards, texts
from bot.services.checkin import (
    AlertNotice,
    AnsweredView,
    ConsentQuestion,
    NextDue,
    QuestionView,
    Reask,
    SkipAsked,
    Summary,
    TaskList,
)
from bot.services.responses import ResponseType, answer_hint, button_tokens
from bot.services.views import PromptView


def render_prompt(view: PromptView) -> tuple[str, InlineKeyboardMarkup]:
    """The due prompt (or a reminder): task, local due time, number of questions, buttons."""
    local_due = view.due_at.astimezone(ZoneInfo(view.zone))
    local_expiry = view.expires_at.astimezone(ZoneInfo(view.zone))
    text = texts.prompt(
        view.task_title,
        local_due,
        local_expiry,
        view.question_count,
        view.reminder_number,
        view.started,
    )
    start_label = texts.button_resume() if view.started else texts.button_start()
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    start_label, callback_data=keyboards.encode("p", view.delivery_id, "start")
                )
            ],
            [
                InlineKeyboardButton(
                    texts.button_later(),
                    callback_data=keyboards.encode("p", view.delivery_id, "later"),
                ),
                InlineKeyboardButton(
                    texts.button_skip_task(),
                    callback_data=keyboards.encode("p", view.delivery_id, "skip"),
                ),
            ],
        ]
    )
    return text, markup


def render_skip_confirm(asked: SkipAsked) -> tuple[str, InlineKeyboardMarkup]:
    """Skip pressed on a check-in with answers: skip the rest, or carry on."""
    text = texts.checkin_skip_confirm(asked.task_title, asked.answered, asked.total)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.button_skip_rest(),
                    callback_data=keyboards.encode("p", asked.delivery_id, "skipsure"),
                ),
                InlineKeyboardButton(
                    texts.button_carry_on(),
                    callback_data=keyboards.encode("p", asked.delivery_id, "goon"),
                ),
            ]
        ]
    )
    return text, markup


# --- check-in: questions, answers, summaries --------------------------------------------------

# Scale buttons per row: 0-10 fits as 6 + 5 on a phone without labels being cut.
SCALE_ROW = 6
# A summary quotes the question and the answer, shortened so long ones keep it readable.
SUMMARY_QUESTION_CHARS = 80
SUMMARY_ANSWER_CHARS = 120


def render_consent(question: ConsentQuestion) -> tuple[str, InlineKeyboardMarkup]:
    """A group's consent text with "I agree" and "No, thanks"; the buttons name its version.

    Joining: ``cj:<request>:<version>:y|n:<read in>`` (the pending join's id, never the
    invite code); a member asked again: ``cm:<group>:<version>:y|n:<read in>``. ``<read in>``
    is the translation shown (a language code), empty for the text as written: the agreement
    records the words the patient read, whatever their language is by the time they press.
    """
    text = texts.consent_question(
        question.group_name,
        question.version,
        question.text,
        joining=question.joining,
        again=question.again,
    )
    kind = "cj" if question.joining else "cm"
    read_in = texts.content_language(question.text)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.consent_button_agree(),
                    callback_data=keyboards.encode(
                        kind, question.ref, question.version, "y", read_in
                    ),
                ),
                InlineKeyboardButton(
                    texts.consent_button_decline(),
                    callback_data=keyboards.encode(
                        kind, question.ref, question.version, "n", read_in
                    ),
                ),
            ]
        ]
    )
    return text, markup


def render_question(
    view: QuestionView, *, intro: str | None = None, playground: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One question: "Question 2 of 3", the description, the link, how to answer, buttons.

    ``playground``: the reader is on the playground's page (``Deps.playground``).
    """
    parts = [intro] if intro else []
    parts.append(_question_body(view))
    parts.append(f"<i>{texts.words(answer_hint(view.rules), playground=playground)}</i>")
    return "\n\n".join(parts), question_keyboard(view, with_skip=view.optional)


def render_answered(answered: AnsweredView) -> str:
    """The question message once answered: the question and the answer, no buttons."""
    tail = (
        texts.checkin_your_answer_skipped()
        if answered.skipped
        else texts.checkin_your_answer(answered.display)
    )
    return f"{_question_body(answered.question)}\n\n{tail}"


def render_reask(
    reask: Reask, *, playground: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A wrong answer: the specific hint, and the way out when the patient keeps failing."""
    lines = [texts.words(reask.hint, playground=playground)]
    if reask.offer_skip:
        lines.append(texts.checkin_offer_skip())
    elif reask.stuck:
        lines.append(texts.checkin_stuck())
    return "\n".join(lines), question_keyboard(reask.question, with_skip=reask.offer_skip)


def question_keyboard(view: QuestionView, *, with_skip: bool) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    buttons = [
        InlineKeyboardButton(
            # A choice's button shows the reader's version of the option; it carries the
            # option's place, so the answer stored is the canonical option.
            texts.content(label) if isinstance(label, str) else texts.words(label),
            # The revision too: a press names the very words it answered, even when the record
            # of the question's send was lost (``checkin.answer_button``).
            callback_data=keyboards.encode(
                "a", view.delivery_id, view.question_id, token, view.revision
            ),
        )
        for label, token in button_tokens(view.rules)
    ]
    if view.rules.response_type == ResponseType.SCALE:
        rows.extend(_balanced_rows(buttons, SCALE_ROW))
    elif view.rules.response_type == ResponseType.YES_NO:
        rows.append(buttons)
    else:
        rows.extend([button] for button in buttons)
    if with_skip:
        rows.append(
            [
                InlineKeyboardButton(
                    texts.checkin_button_skip_question(),
                    callback_data=keyboards.encode("s", view.delivery_id, view.question_id),
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


# Telegram's limit on a message's length.
MAX_MESSAGE = 4096


def shown_length(html_text: str) -> int:
    """The length Telegram counts against ``MAX_MESSAGE``: the text without its markup, in
    UTF-16 units (an emoji outside the basic plane counts two)."""
    return len(html.unescape(_TAG.sub("", html_text)).encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^>]+>")


def split_message(text: str) -> list[str]:
    """Split a long HTML message at line breaks so each part stays within Telegram's limit.

    Callers build messages from whole lines, each holding balanced tags, so a cut between lines
    never breaks the markup.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_MESSAGE - 96 and current:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return chunks


def render_summary(summary: Summary) -> str:
    lines = [texts.checkin_summary_head(summary.task_title)]
    lines.extend(
        texts.checkin_summary_line(
            # In the reader's language before shortening, which makes a plain string.
            _shorten(texts.content(line.description), SUMMARY_QUESTION_CHARS),
            _shorten(texts.content(line.display), SUMMARY_ANSWER_CHARS),
            line.skipped,
        )
        for line in summary.lines
    )
    lines.append("")
    lines.append(texts.checkin_summary_thanks())
    return "\n".join(lines)


def render_alert(notice: AlertNotice) -> str:
    return texts.checkin_alert(
        notice.patient_name,
        notice.group_name,
        notice.task_title,
        _shorten(notice.question, SUMMARY_QUESTION_CHARS * 2),
        _shorten(notice.answer, SUMMARY_ANSWER_CHARS),
        notice.rule,
        notice.answered_at.astimezone(ZoneInfo(notice.zone)),
    )


def alert_markup(notice: AlertNotice) -> InlineKeyboardMarkup | None:
    """The alert's button to the patient's page (opened as a new message)."""
    if not notice.patient_id:
        return None
    data = keyboards.encode(keyboards.PATIENT_OPEN, notice.patient_id)
    label = texts.alert_page_button(notice.patient_name)
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


def render_next_due(next_due: NextDue | None) -> str:
    if next_due is None:
        return texts.checkin_nothing_planned()
    if next_due.due_now:
        return texts.checkin_next_due_now(next_due.task_title)
    return texts.checkin_next_due(
        next_due.task_title, next_due.due_at.astimezone(ZoneInfo(next_due.zone))
    )


# /tasks lists the oldest open check-ins (they close first) and counts the rest: a patient
# back after weeks away, in several groups whose tasks stay open long, can have more than
# one message holds (4,096 characters, 100 buttons). It is the command every apology points
# to, so it must always arrive.
MAX_TASKS_LISTED = 10
_ROOM_FOR_MORE = 300  # the "…and N more" line, in the longest language


def render_task_list(tasks: TaskList) -> tuple[str, InlineKeyboardMarkup | None]:
    """/tasks: the open check-ins with a Start or Continue button each, or the next due one."""
    if not tasks.known or not tasks.in_groups:
        return texts.checkin_how_to_join(), None
    if not tasks.items:
        if tasks.opted_out:
            return texts.checkin_tasks_opted_out(), None
        return texts.checkin_tasks_none(render_next_due(tasks.next_due)), None
    lines = [texts.checkin_tasks_head()]
    rows = []
    length = shown_length(lines[0])
    for listed, item in enumerate(tasks.items):
        zone = ZoneInfo(item.zone)
        line = texts.checkin_task_line(
            item.task_title,
            item.due_at.astimezone(zone),
            item.expires_at.astimezone(zone),
            item.answered,
            item.total,
            item.started,
        )
        length += shown_length(line) + 1
        if listed == MAX_TASKS_LISTED or length > MAX_MESSAGE - _ROOM_FOR_MORE:
            lines.append(texts.checkin_tasks_more(len(tasks.items) - listed))
            break
        lines.append(line)
        rows.append(
            [
                InlineKeyboardButton(
                    texts.checkin_button_task(item.task_title, item.started),
                    callback_data=keyboards.encode("p", item.delivery_id, "start"),
                )
            ]
        )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def timezone_keyboard(zones: list[str], current: str) -> InlineKeyboardMarkup | None:
    buttons = []
    for zone in zones:
        if zone == current:
            continue
        try:
            data = keyboards.encode("tz", zone)
        except ValueError:
            continue  # a name too long for callback data: /timezone NAME still sets it
        buttons.append([InlineKeyboardButton(zone, callback_data=data)])
    return InlineKeyboardMarkup(buttons) if buttons else None


def confirm_keyboard(kind: str, yes: str, no: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=keyboards.encode(kind, "yes")),
                InlineKeyboardButton(no, callback_data=keyboards.encode(kind, "no")),
            ]
        ]
    )


def _question_body(view: QuestionView) -> str:
    lines = [
        texts.checkin_question_header(view.task_title, view.number, view.total, view.optional),
        "",
        texts.escape(texts.content(view.description)),
    ]
    if view.link:
        lines.append(texts.checkin_link(view.link))
    return "\n".join(lines)


def _balanced_rows(
    buttons: list[InlineKeyboardButton], most: int
) -> list[list[InlineKeyboardButton]]:
    """Split into rows of at most ``most``, as even as possible, longer rows first."""
    if not buttons:
        return []
    count = -(-len(buttons) // most)
    size, extra = divmod(len(buttons), count)
    rows, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        rows.append(buttons[start:end])
        start = end
    return rows


def _shorten(text: str, most: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def with_outcome(shown_html: str, outcome: str) -> str:
    """A prompt as it stood, plus what the patient chose; used to edit it without buttons."""
    return f"{shown_html}\n\n{outcome}"
