"""Care teams: /team GROUP (with a button per member to take them off), /addtoteam,
/removefromteam. The use cases decide who may (administrators only); a button is checked again
when pressed, like a command."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot import keyboards, texts
from bot.context import BotContext
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import (
    _actor,
    _args,
    _attempt,
    _button,
    _fits,
    _markup,
    _now,
    _problems,
    _send,
    _send_long,
    _zone,
    therapist_only,
)
from bot.rendering import split_message
from bot.services import authoring
from bot.services.authoring import AuthoringError, Team, TeamChange

# ct:<group id>:<telegram user id>: take that therapist off that group's care team (keyboards.py)
TEAM_PREFIX = "ct"


def _team_markup(team: Team) -> InlineKeyboardMarkup:
    return _markup(
        *[
            [
                _button(
                    texts.team_button_remove(member.name, member.telegram_user_id),
                    TEAM_PREFIX,
                    team.group.id,
                    member.telegram_user_id,
                )
            ]
            for member in team.members
        ]
    )


@therapist_only
async def show_team(update: Update, context: BotContext) -> None:
    """List a group's team, each member with a button to take them off it."""
    ref = _args(update)
    if not ref:
        await _send(update, texts.team_usage())
        return
    deps = context.deps
    team = await _attempt(
        update,
        context,
        authoring.team_of,
        deps.database,
        _zone(context),
        deps.settings.therapists.user_ids,
        ref,
        actor=_actor(update, context),
    )
    if team is None:
        return
    if not team.members:
        await _send(update, texts.team_empty(team))
        return
    listing = texts.team_list(team)
    if len(team.members) <= keyboards.MAX_BUTTONS and _fits(listing):
        await _send(update, listing, _team_markup(team))
        return
    # Telegram refuses a keyboard of more than 100 buttons and a message past 4096 characters:
    # a large team is listed whole, in parts, and taken off by command.
    await _send_long(update, split_message(texts.team_list(team, with_buttons=False)))


def _said(change: TeamChange, added: bool) -> str:
    if added:
        return (
            texts.team_member_added(change)
            if change.changed
            else texts.team_member_already(change)
        )
    return (
        texts.team_member_removed(change) if change.changed else texts.team_member_not_on(change)
    )


@therapist_only
async def add_to_team(update: Update, context: BotContext) -> None:
    """Put a therapist on a group's team: /addtoteam GROUP USER_ID."""
    deps = context.deps
    change = await _attempt(
        update,
        context,
        authoring.add_to_team,
        deps.database,
        _now(context),
        _zone(context),
        deps.settings.therapists.user_ids,
        _args(update),
        actor=_actor(update, context),
    )
    if change is not None:
        await _send(update, _said(change, added=True))


@therapist_only
async def remove_from_team(update: Update, context: BotContext) -> None:
    """Take a therapist off a group's team: /removefromteam GROUP USER_ID."""
    deps = context.deps
    change = await _attempt(
        update,
        context,
        authoring.remove_from_team,
        deps.database,
        _now(context),
        _zone(context),
        _args(update),
        actor=_actor(update, context),
    )
    if change is not None:
        await _send(update, _said(change, added=False))


@therapist_only
async def remove_from_team_press(update: Update, context: BotContext) -> None:
    """A /team message's button: the same use case as /removefromteam, checked the same way."""
    query = update.callback_query
    assert query is not None
    callback = keyboards.decode(query.data)
    group_id = callback.int_part(0) if callback else None
    # Telegram user ids outgrow int_part's INTEGER range: read it as the digits it is.
    typed = callback.parts[1] if callback and len(callback.parts) == 2 else ""
    user_id = int(typed) if typed.isascii() and typed.isdigit() else None
    if group_id is None or user_id is None:
        await acknowledge(context, query, texts.admin_stale_button())
        return
    await acknowledge(context, query)
    deps = context.deps
    try:
        change = await deps.run(
            authoring.remove_from_team,
            deps.database,
            _now(context),
            _zone(context),
            f"{group_id} {user_id}",
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await _send(update, _said(change, added=False))
