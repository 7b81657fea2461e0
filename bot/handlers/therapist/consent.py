"""/setconsent GROUP [LANGUAGE | off]: a group's consent text, or its translation into one
language, shown back with Save / Cancel first."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot import texts
from bot.context import BotContext
from bot.handlers.therapist.common import (
    CONSENT_REVIEW,
    CONSENT_TEXT,
    END,
    _actor,
    _args,
    _attempt,
    _button,
    _drop,
    _fits,
    _markup,
    _now,
    _problems,
    _send,
    therapist_only,
)
from bot.handlers.therapist.dialogue import _choice, _Draft, _picked, _start_draft, _typed, step
from bot.rendering import split_message
from bot.services import consent
from bot.services.authoring import AuthoringError
from bot.services.meaning import Kind


def _messages(text: str) -> list[str]:
    """``text`` in as few messages as it fits, cut between paragraphs (a paragraph too long
    for one message between its lines): a consent text and its translations are each up to
    ``MAX_CONSENT_TEXT`` long, so a whole version may need several."""
    chunks: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        for piece in [paragraph] if _fits(paragraph) else split_message(paragraph):
            joined = f"{current}\n\n{piece}" if current else piece
            if current and not _fits(joined):
                chunks.append(current)
                current = piece
            else:
                current = joined
    return [*chunks, current] if current else chunks


async def _send_whole(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Send ``text`` in as many messages as it takes, the buttons under the last."""
    *before, last = _messages(text) or [""]
    for chunk in before:
        await _send(update, chunk)
    await _send(update, last, markup)


def _save_or_cancel() -> InlineKeyboardMarkup:
    return _markup(
        [
            _button(texts.consent_button_save(), "tc", "save"),
            _button(texts.consent_button_cancel(), "tc", "cancel"),
        ]
    )


@therapist_only
async def setconsent_start(update: Update, context: BotContext) -> int:
    """Ask for the group's new consent text or one translation of it, or switch it off."""
    _drop(context)  # a dialogue begun again ends the one before, also when it stops at once
    ref = _args(update)
    if not ref:
        await _send(update, texts.setconsent_usage())
        return END
    deps = context.deps
    target = await _attempt(
        update, context, consent.consent_target, deps.database, ref, actor=_actor(update, context)
    )
    if target is None:
        return END
    if target.off:
        change = await _attempt(
            update,
            context,
            consent.set_consent,
            deps.database,
            _now(context),
            target.group_id,
            None,
            based_on=None,
            actor=_actor(update, context),
        )
        if change is not None:
            await _send(update, texts.setconsent_off_saved(change.group_name, change.version))
        return END
    assert context.user_data is not None
    _start_draft(
        update,
        context,
        _Draft(
            mode="consent",
            touched=_now(context),
            consent_group_id=target.group_id,
            consent_language=target.language,
            consent_based_on=target.version,
        ),
    )
    if target.language is None:
        await _send(update, texts.setconsent_ask_text(target.group_name, target.next_version))
    else:
        await _send_whole(
            update,
            texts.setconsent_ask_translation(
                target.group_name,
                target.language,
                target.version,
                target.next_version,
                target.text,
                target.translation,
            ),
            None,
        )
    return CONSENT_TEXT


@step
async def type_consent(update: Update, context: BotContext, draft: _Draft) -> int:
    """Show the version back as it will be saved, with Save and Cancel."""
    if draft.consent_language is not None:
        return await _type_translation(update, context, draft, draft.consent_language)
    deps = context.deps
    try:
        shown = await deps.run(
            consent.draft_consent,
            deps.database,
            str(draft.consent_group_id),
            _typed(update),
            based_on=draft.consent_based_on,
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _problems(update, error)
        if any(problem.kind is Kind.CONSENT_SAVED_MEANWHILE for problem in error.problems):
            _drop(context)  # the review would be of a version that can no longer be saved
            return END
        return CONSENT_TEXT
    draft.consent_text = shown.text
    await _send(
        update,
        texts.setconsent_review(
            shown.group_name, shown.next_version, shown.text, shown.untranslated
        ),
        _save_or_cancel(),
    )
    return CONSENT_REVIEW


async def _type_translation(
    update: Update, context: BotContext, draft: _Draft, language: str
) -> int:
    """Show the version in force back with this translation set, with Save and Cancel."""
    deps = context.deps
    try:
        shown = await deps.run(
            consent.draft_translation,
            deps.database,
            draft.consent_group_id,
            draft.consent_based_on,
            language,
            _typed(update),
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _problems(update, error)
        if any(problem.kind is Kind.CONSENT_CHANGED_MEANWHILE for problem in error.problems):
            _drop(context)  # what they translated is no longer in force: begin again
            return END
        return CONSENT_TEXT
    draft.consent_text = shown.translation
    await _send_whole(update, texts.setconsent_translation_review(shown), _save_or_cancel())
    return CONSENT_REVIEW


@step
async def pick_consent(update: Update, context: BotContext, draft: _Draft) -> int:
    """Save the text, or the translation, as the group's next version, or drop it."""
    parts = _choice(update)
    _drop(context)
    if not parts or parts[0] != "save":
        await _picked(update, texts.consent_button_cancel())
        await _send(update, texts.setconsent_cancelled())
        return END
    await _picked(update, texts.consent_button_save())
    deps = context.deps
    if draft.consent_language is not None:
        change = await _attempt(
            update,
            context,
            consent.set_translation,
            deps.database,
            _now(context),
            draft.consent_group_id,
            draft.consent_based_on,
            draft.consent_language,
            draft.consent_text,
            actor=_actor(update, context),
        )
        if change is not None:
            await _send(
                update,
                texts.setconsent_translation_saved(
                    change.group_name, change.version, draft.consent_language
                ),
            )
        return END
    change = await _attempt(
        update,
        context,
        consent.set_consent,
        deps.database,
        _now(context),
        draft.consent_group_id,
        draft.consent_text,
        based_on=draft.consent_based_on,
        actor=_actor(update, context),
    )
    if change is not None:
        await _send(update, texts.setconsent_saved(change.group_name, change.version))
    return END
