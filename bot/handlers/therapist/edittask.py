"""What only /edittask has: choosing what to change, removing questions, applying a change."""

from __future__ import annotations

import logging

from telegram import Update

from bot import texts
from bot.context import BotContext
from bot.handlers.therapist.common import (
    DUE,
    EDIT_MENU,
    END,
    REMOVE_PICK,
    _actor,
    _attempt,
    _button,
    _chunks,
    _drop,
    _example_day,
    _markup,
    _named_task,
    _now,
    _problems,
    _send,
    _send_long,
    _zone,
    therapist_only,
)
from bot.handlers.therapist.dialogue import (
    _ask_description,
    _ask_repeat,
    _choice,
    _Draft,
    _picked,
    _start_draft,
    step,
)
from bot.handlers.therapist.tasks import _close_buttons
from bot.services import authoring
from bot.services.authoring import AuthoringError

log = logging.getLogger(__name__)


# --- /edittask ----------------------------------------------------------------------------


@therapist_only
async def edittask_start(update: Update, context: BotContext) -> int:
    """Show what can be changed about a task."""
    _drop(context)  # a dialogue begun again ends the one before, also when it stops at once
    details = await _named_task(update, context, texts.admin_usage_edittask())
    if details is None:
        return END
    if details.deleted:
        await _send(update, texts.admin_task_deleted(details.id, details.title))
        return END
    assert context.user_data is not None
    _start_draft(
        update,
        context,
        _Draft(
            mode="edit",
            touched=_now(context),
            group=details.group,
            task_id=details.id,
            task_title=details.title,
            due_date=details.due_date,
            due_time=details.due_time,
            recurrence=details.recurrence,
            existing_questions=len(details.active_questions),
        ),
    )
    await _send_long(update, _chunks(texts.admin_task_details(details)))
    await _send(
        update,
        texts.admin_ask_edit(details.id, details.title),
        _markup(
            [
                _button(texts.admin_button_edit_due(), "te", details.id, "due"),
                _button(texts.admin_button_edit_repeat(), "te", details.id, "repeat"),
            ],
            [
                _button(texts.admin_button_edit_add(), "te", details.id, "addq"),
                _button(texts.admin_button_edit_remove(), "te", details.id, "rmq"),
            ],
            [_button(texts.admin_button_edit_reword(), "te", details.id, "chq")],
            [_button(texts.admin_button_cancel(), "te", details.id, "done")],
        ),
    )
    return EDIT_MENU


async def _of_another_task(update: Update, draft: _Draft) -> bool:
    """Whether the press came from an earlier /edittask's message, for another task than the
    one being edited: its buttons are closed, and nothing changes. Taken as this task's, the
    press removed or reworded this task's question of that number."""
    parts = _choice(update)
    if parts and parts[0] == str(draft.task_id):
        return False
    query = update.callback_query
    await _close_buttons(query.message if query else None, texts.admin_stale_button())
    return True


@step
async def pick_edit(update: Update, context: BotContext, draft: _Draft) -> int:
    """Go to the part of the task the therapist wants to change."""
    if await _of_another_task(update, draft):
        return EDIT_MENU
    parts = _choice(update)
    action = parts[1] if len(parts) > 1 else ""
    assert draft.group is not None and draft.task_id is not None
    if action == "due":
        await _picked(update, texts.admin_button_edit_due())
        draft.edit = "due"
        await _send(
            update, texts.admin_ask_due(draft.group.zone, _example_day(context, draft.group.zone))
        )
        return DUE
    if action == "repeat":
        await _picked(update, texts.admin_button_edit_repeat())
        draft.edit = "repeat"
        return await _ask_repeat(update)
    if action == "addq":
        await _picked(update, texts.admin_button_edit_add())
        if draft.existing_questions >= authoring.MAX_QUESTIONS:
            # Refused now, not after every step of a question that could never be saved.
            await _send(update, texts.admin_too_many_questions(authoring.MAX_QUESTIONS))
            _drop(context)
            return END
        draft.edit = "questions"
        return await _ask_description(update, draft)
    if action in ("rmq", "chq"):
        rewording = action == "chq"
        await _picked(
            update,
            texts.admin_button_edit_reword() if rewording else texts.admin_button_edit_remove(),
        )
        deps = context.deps
        details = await _attempt(
            update,
            context,
            authoring.task_details,
            deps.database,
            _now(context),
            _zone(context),
            draft.task_id,
            actor=_actor(update, context),
        )
        if details is None:
            _drop(context)
            return END
        rows = [
            [
                _button(
                    texts.admin_question_button(q.position, q.description),
                    "te",
                    draft.task_id,
                    "ch" if rewording else "rm",
                    q.position,
                )
            ]
            for q in details.active_questions
        ]
        ask = texts.admin_ask_reword() if rewording else texts.admin_ask_remove()
        await _send(update, ask, _markup(*rows))
        return REMOVE_PICK
    await _picked(update, texts.admin_button_cancel())
    _drop(context)
    await _send(update, texts.admin_cancelled())
    return END


@step
async def pick_remove(update: Update, context: BotContext, draft: _Draft) -> int:
    """Retire the chosen question (its answers stay), or start writing its new wording."""
    if await _of_another_task(update, draft):
        return REMOVE_PICK
    parts = _choice(update)
    position = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    assert draft.task_id is not None
    deps = context.deps
    if parts[1] == "ch":
        # The question's steps as /newtask asks them, each showing what the question has now
        # and offering to keep it; the last one saves a new revision.
        current = await _attempt(
            update,
            context,
            authoring.question_now,
            deps.database,
            draft.task_id,
            position,
            actor=_actor(update, context),
        )
        if current is None:  # removed meanwhile: said, and the question buttons closed
            _drop(context)
            query = update.callback_query
            await _close_buttons(query.message if query else None, None)
            return END
        await _picked(update, texts.admin_question_reword_label(position))
        draft.edit = "reword"
        draft.reword_position = position
        draft.current = current
        return await _ask_description(update, draft)
    _drop(context)
    try:
        changed = await deps.run(
            authoring.remove_question,
            deps.database,
            _now(context),
            draft.task_id,
            position,
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _close_buttons(
            update.callback_query.message if update.callback_query else None, None
        )
        await _problems(update, error)
        return END
    await _picked(update, texts.admin_question_removed_label(position))
    await _send(update, texts.admin_question_removed(changed))
    return END
