"""Therapists, groups, patients and invites: /addtherapist ... /invite, /revoke."""

from __future__ import annotations

import logging

from telegram import BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import texts
from bot.context import BotContext
from bot.handlers.therapist.common import (
    _actor,
    _args,
    _attempt,
    _chunks,
    _now,
    _send,
    _send_long,
    _zone,
    therapist_only,
)
from bot.handlers.therapist.menus import menu_changes, set_therapist_menu
from bot.readers import chat_language
from bot.services import authoring
from bot.texts.language import speaking

log = logging.getLogger(__name__)


# --- therapists ---------------------------------------------------------------------------


def _user_id_arg(update: Update) -> int | None:
    text = _args(update)
    if text.isascii() and text.isdigit() and 0 < int(text) < 2**53:
        return int(text)
    return None


@therapist_only
async def add_therapist(update: Update, context: BotContext) -> None:
    """Make a Telegram user a therapist and show them the admin commands."""
    user_id = _user_id_arg(update)
    if user_id is None:
        await _send(update, texts.admin_usage_addtherapist())
        return
    deps = context.deps
    change = await _attempt(
        update,
        context,
        authoring.add_therapist,
        deps.database,
        _now(context),
        deps.settings.therapists.user_ids,
        user_id,
        actor=_actor(update, context),
    )
    if change is None:
        return
    if not change.changed:
        await _send(update, texts.admin_already_therapist(user_id))
        return
    async with menu_changes(context.application, change.chat_id):
        menu_set = await set_therapist_menu(context.bot, change.chat_id, deps=deps)
    await _send(update, texts.admin_therapist_added(user_id, menu_set))


@therapist_only
async def remove_therapist(update: Update, context: BotContext) -> None:
    """Take a stored therapist's admin rights (and admin menu) away."""
    user_id = _user_id_arg(update)
    if user_id is None:
        await _send(update, texts.admin_usage_removetherapist())
        return
    deps = context.deps
    change = await _attempt(
        update,
        context,
        authoring.remove_therapist,
        deps.database,
        deps.settings.therapists.user_ids,
        user_id,
        now=_now(context),
        actor=_actor(update, context),
    )
    if change is None:
        return
    try:
        async with menu_changes(context.application, change.chat_id):
            await context.bot.delete_my_commands(scope=BotCommandScopeChat(change.chat_id))
    except TelegramError as error:
        log.warning("Could not remove the therapist menu of chat %s: %s", change.chat_id, error)
    await _send(update, texts.admin_therapist_removed(user_id))


# --- groups -------------------------------------------------------------------------------


@therapist_only
async def new_group(update: Update, context: BotContext) -> None:
    """Create a group; its creator is on its care team."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_newgroup())
        return
    user = update.effective_user
    assert user is not None
    deps = context.deps
    group = await _attempt(
        update,
        context,
        authoring.create_group,
        deps.database,
        _now(context),
        _zone(context),
        user.id,
        user.full_name,
        text,
        actor=_actor(update, context),
    )
    if group is None:
        return
    await _send(update, texts.admin_group_created(group.name, group.id, group.zone))


@therapist_only
async def list_groups(update: Update, context: BotContext) -> None:
    """List the therapist's groups (every group for an administrator) with their members."""
    deps = context.deps
    actor = _actor(update, context)
    groups = await deps.run(
        authoring.list_groups,
        deps.database,
        _now(context),
        _zone(context),
        deps.settings.therapists.user_ids,
        actor=actor,
    )
    if not groups and not authoring.sees_every_group(actor):
        # Other teams' groups may well exist: "no groups yet" would be untrue.
        await _send(update, texts.team_none_yet())
        return
    await _send_long(update, _chunks(texts.admin_groups(groups)))


@therapist_only
async def list_patients(update: Update, context: BotContext) -> None:
    """List a group's patients with when they joined and their open check-ins."""
    ref = _args(update)
    if not ref:
        await _send(update, texts.admin_usage_patients())
        return
    deps = context.deps
    result = await _attempt(
        update,
        context,
        authoring.group_patients,
        deps.database,
        _zone(context),
        ref,
        actor=_actor(update, context),
    )
    if result is None:
        return
    await _send_long(update, _chunks(texts.admin_patients(result)))


@therapist_only
async def remove_patient(update: Update, context: BotContext) -> None:
    """Take a patient out of a group and cancel what they still had to answer there."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_removepatient())
        return
    deps = context.deps
    removed = await _attempt(
        update,
        context,
        authoring.remove_patient,
        deps.database,
        _now(context),
        _zone(context),
        text,
        actor=_actor(update, context),
    )
    if removed is None:
        return
    await _send(update, texts.admin_patient_removed(removed))
    if removed.chat_id is not None:
        await _tell_removed_patient(context, removed.chat_id, removed.group.name)


async def _tell_removed_patient(context: BotContext, chat_id: int, group: str) -> None:
    """The patient learns it from the bot, in their language: their prompt only read
    "Cancelled: no answer needed any more", and /tasks then greeted them as a stranger."""
    language = await chat_language(context.deps, chat_id)
    with speaking(language):
        text = texts.checkin_removed_from_group(group)
    try:
        await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
    except TelegramError as error:
        # Blocked, or the chat is gone: the removal itself is done and told to the therapist.
        log.info("could not tell a removed patient: %s", error)


# --- invites ------------------------------------------------------------------------------


@therapist_only
async def invite(update: Update, context: BotContext) -> None:
    """Make an invite deep link for a group."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_invite())
        return
    deps = context.deps
    info = await _attempt(
        update,
        context,
        authoring.create_invite,
        deps.database,
        _now(context),
        _zone(context),
        text,
        default_days=deps.settings.invites.expiry_days,
        default_uses=deps.settings.invites.max_uses,
        actor=_actor(update, context),
    )
    if info is None:
        return
    link = f"https://t.me/{context.bot.username}?start={info.code}"
    await _send(update, texts.admin_invite_created(info, link))


@therapist_only
async def revoke(update: Update, context: BotContext) -> None:
    """Stop an invite code from working."""
    code = _args(update)
    if not code:
        await _send(update, texts.admin_usage_revoke())
        return
    deps = context.deps
    info = await _attempt(
        update,
        context,
        authoring.revoke_invite,
        deps.database,
        _now(context),
        _zone(context),
        code,
        actor=_actor(update, context),
    )
    if info is None:
        return
    await _send(update, texts.admin_invite_revoked(info))
