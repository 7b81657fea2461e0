"""/setconsent GROUP [off]: a group's consent text, shown back with Save / Cancel first."""

from __future__ import annotations

from telegram import Update

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
    _markup,
    _now,
    _problems,
    _send,
    therapist_only,
)
from bot.handlers.therapist.dialogue import _choice, _Draft, _picked, _start_draft, _typed, step
from bot.services import consent
from bot.services.authoring import AuthoringError


@therapist_only
async def setconsent_start(update: Update, context: BotContext) -> int:
    """Ask for the group's new consent text, or switch the requirement off."""
    _drop(context)  # a dialogue begun again ends the one before, also when it stops at once
    ref = _args(update)
    if not ref:
        await _send(update, texts.setconsent_usage())
        return END
    words = ref.rsplit(maxsplit=1)
    switch_off = len(words) == 2 and words[1].casefold() == "off"
    deps = context.deps
    group = await _attempt(
        update,
        context,
        consent.consent_group,
        deps.database,
        words[0] if switch_off else ref,
        actor=_actor(update, context),
    )
    if group is None:
        return END
    if switch_off:
        change = await _attempt(
            update,
            context,
            consent.set_consent,
            deps.database,
            _now(context),
            group.group_id,
            None,
            actor=_actor(update, context),
        )
        if change is not None:
            await _send(update, texts.setconsent_off_saved(change.group_name, change.version))
        return END
    assert context.user_data is not None
    _start_draft(
        update,
        context,
        _Draft(mode="consent", touched=_now(context), consent_group_id=group.group_id),
    )
    await _send(update, texts.setconsent_ask_text(group.group_name, group.next_version))
    return CONSENT_TEXT


@step
async def type_consent(update: Update, context: BotContext, draft: _Draft) -> int:
    """Show the text back as it will be saved, with Save and Cancel."""
    deps = context.deps
    try:
        shown = await deps.run(
            consent.draft_consent,
            deps.database,
            str(draft.consent_group_id),
            _typed(update),
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _problems(update, error)
        return CONSENT_TEXT
    draft.consent_text = shown.text
    await _send(
        update,
        texts.setconsent_review(
            shown.group_name, shown.next_version, shown.text, shown.untranslated
        ),
        _markup(
            [
                _button(texts.consent_button_save(), "tc", "save"),
                _button(texts.consent_button_cancel(), "tc", "cancel"),
            ]
        ),
    )
    return CONSENT_REVIEW


@step
async def pick_consent(update: Update, context: BotContext, draft: _Draft) -> int:
    """Save the text as the group's next version, or drop it."""
    parts = _choice(update)
    _drop(context)
    if not parts or parts[0] != "save":
        await _picked(update, texts.consent_button_cancel())
        await _send(update, texts.setconsent_cancelled())
        return END
    await _picked(update, texts.consent_button_save())
    deps = context.deps
    change = await _attempt(
        update,
        context,
        consent.set_consent,
        deps.database,
        _now(context),
        draft.consent_group_id,
        draft.consent_text,
        actor=_actor(update, context),
    )
    if change is not None:
        await _send(update, texts.setconsent_saved(change.group_name, change.version))
    return END
