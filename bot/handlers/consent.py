"""The patient's "I agree" / "No, thanks" under a group's consent text."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import keyboards, rendering, texts
from bot.context import BotApplication, BotContext
from bot.handlers.patient import (
    HTML,
    _chat_id,
    _guarded,
    _query_and_user,
    _settle_prompt,
    policy_of,
)
from bot.handlers.presses import acknowledge
from bot.services import checkin


def register(application: BotApplication) -> None:
    """Add the consent buttons (before patient.py, whose last handler takes unknown buttons)."""
    application.add_handler(CallbackQueryHandler(consent_pressed, pattern=r"^c[jm]:"))


async def consent_pressed(update: Update, context: BotContext) -> None:
    """Join or stay with the agreement stored, or decline; answer an old text with the new."""
    query, user = _query_and_user(update)
    callback = keyboards.decode(query.data)
    ref = callback.int_part(0) if callback else None
    version = callback.int_part(1) if callback else None
    choice = callback.parts[2] if callback and len(callback.parts) in (3, 4) else ""
    if callback is None or ref is None or version is None or choice not in ("y", "n"):
        await acknowledge(context, query, texts.consent_gone())
        return
    # Which words the message showed; a button sent before buttons said so has three parts.
    shown_in = callback.parts[3] if len(callback.parts) == 4 else None
    deps = context.deps
    agree = choice == "y"
    if callback.kind == "cj":
        who = checkin.Patient(
            user.id,
            _chat_id(query, user),
            user.first_name,
            user.last_name or "",
            user.language_code,
        )
        work = deps.run(
            checkin.answer_join,
            deps.database,
            deps.clock.now(),
            policy_of(context),
            who,
            ref,
            version,
            agree,
            shown_in,
        )
    else:
        work = deps.run(
            checkin.answer_member,
            deps.database,
            deps.clock.now(),
            user.id,
            ref,
            version,
            agree,
            shown_in,
        )
    answer = await _guarded(query, work)
    outcome = checkin.ConsentOutcome
    if answer.outcome == outcome.GONE:
        await acknowledge(context, query, texts.consent_gone())
        return
    if answer.outcome == outcome.ANSWERED:
        await acknowledge(context, query, texts.consent_answered_already())
        return
    await acknowledge(context, query)
    # The text stays on the screen as it was read, without its buttons, with what was chosen.
    await _settle_prompt(
        context,
        query,
        user,
        texts.consent_changed_line()
        if answer.outcome == outcome.CHANGED
        else texts.consent_chosen(agree),
    )
    if answer.outcome == outcome.CHANGED and answer.question is not None:
        text, markup = rendering.render_consent(answer.question)
        await context.bot.send_message(
            _chat_id(query, user), text, parse_mode=HTML, reply_markup=markup
        )
        return
    if answer.outcome == outcome.JOINED:
        text = texts.checkin_joined(answer.group_name, rendering.render_next_due(answer.next_due))
        if answer.version:
            text = f"{texts.consent_joined_line(answer.version)}\n\n{text}"
    elif answer.outcome == outcome.AGREED:
        text = texts.consent_agreed(answer.group_name, answer.version)
    elif answer.outcome == outcome.DECLINED:
        text = (
            texts.consent_declined_member(answer.group_name)
            if answer.known
            else texts.consent_declined(answer.group_name)
        )
    elif answer.outcome == outcome.LEFT:
        text = texts.consent_left(answer.group_name, answer.cancelled)
    elif answer.outcome == outcome.NOT_NEEDED:
        text = texts.consent_not_needed(answer.group_name)
    else:
        problem = answer.problem or checkin.InviteProblem.UNKNOWN
        text = texts.checkin_bad_code(problem.value)
    await context.bot.send_message(_chat_id(query, user), text, parse_mode=HTML)
