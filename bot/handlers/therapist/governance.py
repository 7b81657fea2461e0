"""/audit: the audit trail, a page at a time, newest first, with Older/Newer buttons."""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import BadRequest

from bot import keyboards, texts
from bot.context import BotContext
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import (
    _actor,
    _args,
    _attempt,
    _button,
    _markup,
    _now,
    _send,
    therapist_only,
)
from bot.services import audit_view
from bot.services.audit_view import AuditPage
from bot.services.authoring import AuthoringError

log = logging.getLogger(__name__)

# au:<group or 0>:<days or 0>:<offset> (see keyboards.py)
AUDIT_PREFIX = "au"


def _buttons(page: AuditPage, group_id: int | None) -> InlineKeyboardMarkup | None:
    group, days = group_id or 0, page.days or 0
    row = []
    if page.has_older:
        older = page.offset + len(page.entries)
        row.append(_button(texts.audit_button_older(), AUDIT_PREFIX, group, days, older))
    if page.has_newer:
        newer = max(page.offset - audit_view.PAGE_SIZE, 0)
        row.append(_button(texts.audit_button_newer(), AUDIT_PREFIX, group, days, newer))
    return _markup(row) if row else None


@therapist_only
async def audit(update: Update, context: BotContext) -> None:
    """Show the newest audit events of a group (or all) of the last DAYS (or ever)."""
    deps = context.deps
    target = await _attempt(
        update,
        context,
        audit_view.parse_audit_target,
        deps.database,
        _args(update),
        actor=_actor(update, context),
    )
    if target is None:
        return
    page = await _attempt(
        update,
        context,
        audit_view.audit_page,
        deps.database,
        _now(context),
        group_id=target.group_id,
        days=target.days,
        offset=0,
        actor=_actor(update, context),
    )
    if page is None:
        return
    await _send(update, texts.audit_page(page), _buttons(page, target.group_id))


@therapist_only
async def audit_press(update: Update, context: BotContext) -> None:
    """Turn the page: the button carries the group, the days and where the page starts."""
    query = update.callback_query
    assert query is not None
    callback = keyboards.decode(query.data)
    numbers = [int(p) for p in callback.parts if p.isascii() and p.isdigit()] if callback else []
    if callback is None or len(numbers) != 3 or len(callback.parts) != 3:
        await acknowledge(context, query, texts.admin_stale_button())
        return
    group, days, offset = numbers
    deps = context.deps
    try:
        page = await deps.run(
            audit_view.audit_page,
            deps.database,
            _now(context),
            group_id=group or None,
            days=days or None,
            offset=offset,
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        # A button's answer is plain text, at most 200 characters.
        await acknowledge(context, query, html.unescape(texts.words(error.problems[0]))[:200])
        return
    await acknowledge(context, query)
    try:
        await query.edit_message_text(
            texts.audit_page(page),
            parse_mode="HTML",
            reply_markup=_buttons(page, group or None),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as error:
        # Pressed twice: the page shown is already this one.
        log.info("Audit page not changed: %s", error)
