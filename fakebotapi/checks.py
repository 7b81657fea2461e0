"""Checks of request parameters that need no state: what the real server refuses, refused here."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from fakebotapi.entities import (
    EntityParseError,
    _parse_markdown_v2,
    _trim,
    parse_html,
)
from fakebotapi.records import (
    _BUTTON_ACTIONS,
    _NUMERIC_RE,
    _PARSE_MODES,
    _WEBHOOK_PORTS,
    JSON,
    ScreenMessage,
    _bad,
    _Stored,
)

# --- module helpers -------------------------------------------------------------------------


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


def _update_queue(update: JSON) -> int | str:
    """The queue Telegram keeps an update in for a webhook: its chat, else its sender."""
    payload = update.get(_update_type(update))
    if isinstance(payload, dict):
        for holder in (payload, payload.get("message")):
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return int(chat["id"])
        sender = payload.get("from") or payload.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return f"update:{update.get('update_id')}"


def _check_webhook_url(url: str, *, local: bool) -> None:
    """Refuse what api.telegram.org refuses; a self-hosted server (``local``) takes any."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad("bad webhook: Failed to parse the URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("bad webhook: Failed to parse the URL")
    if local:
        return
    if parts.scheme != "https":
        raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
    if port is not None and port not in _WEBHOOK_PORTS:
        raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not address.is_global:
        raise _bad(f"bad webhook: IP address {address} is reserved")


def _commands_key(scope: Any, language_code: Any) -> str:
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + str(language_code or "")


def _screen(stored: _Stored) -> ScreenMessage:
    file_name = None
    if stored.kind == "document" and isinstance(stored.media, dict):
        file_name = stored.media.get("file_name")
    return ScreenMessage(
        message_id=stored.message_id,
        chat_id=stored.chat_id,
        kind=stored.kind,
        text=stored.text,
        plain=stored.plain,
        parse_mode=stored.parse_mode,
        reply_markup=stored.reply_markup,
        edited=stored.edit_date is not None,
        file_name=file_name,
    )


def _is_placeholder_name(upload: JSON) -> bool:
    filename = upload.get("filename")
    if not filename:
        return True
    mimetype = str(upload.get("mimetype") or "")
    return bool(mimetype) and filename == mimetype.replace("/", ".")


def _require_chat(params: JSON) -> None:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise _bad("chat_id is empty")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int | str):
        raise _bad("chat not found")
    if isinstance(chat_id, str) and not _NUMERIC_RE.fullmatch(chat_id):
        # "@channelname" addresses a public chat this fake does not know.
        raise _bad("chat not found")


def _require_edit_target(params: JSON) -> None:
    if "inline_message_id" in params:
        return
    _require_chat(params)
    if not isinstance(params.get("message_id"), int):
        raise _bad("message identifier is not specified")


def _render_text(params: JSON, key: str) -> tuple[str, list[JSON]]:
    """Validate the text or caption in ``params`` and return what the person will read."""
    text = params.get(key)
    is_caption = key == "caption"
    if text is None and not is_caption:
        raise _bad("message text is empty")
    if not isinstance(text, str):
        raise _bad(f'parameter "{key}" must be a string')
    parse_mode = params.get("parse_mode")
    entities: list[JSON] = []
    try:
        if parse_mode is None:
            plain = text
            given = params.get("caption_entities" if is_caption else "entities")
            entities = list(given) if isinstance(given, list) else []
        elif parse_mode not in _PARSE_MODES:
            raise _bad("unsupported parse_mode")
        elif parse_mode == "HTML":
            plain, entities = parse_html(text)
        elif parse_mode == "MarkdownV2":
            plain = _parse_markdown_v2(text)
        else:
            plain = text  # legacy Markdown: no bot here should use it; length is checked raw
    except EntityParseError as error:
        raise _bad(f"can't parse entities: {error}") from None
    plain, entities = _trim(plain, entities)
    # Counted in UTF-16 units, as Telegram counts entity offsets: an emoji outside the basic
    # plane is two. (Whether the limit counts them so is not documented; a bot within it in
    # UTF-16 units is within it in characters as well.)
    length = len(plain.encode("utf-16-le")) // 2
    if is_caption:
        if length > 1024:
            raise _bad("message caption is too long")
    elif not plain:
        raise _bad("message text is empty")
    elif length > 4096:
        raise _bad("message is too long")
    return plain, entities


def _echo_markup(markup: Any) -> JSON | None:
    # Only inline keyboards belong to a message; reply keyboards live on the person's client.
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


def _check_markup(markup: Any, *, inline_only: bool) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
        return
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                label = button if isinstance(button, str) else button.get("text")
                if not isinstance(label, str) or not label.strip():
                    raise _bad("keyboard button text must be non-empty")
        return
    if "remove_keyboard" in markup or "force_reply" in markup:
        return
    raise _bad("can't parse reply keyboard markup JSON object")


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    if sum(len(r) for r in rows) > 100:
        raise _bad("reply markup is too long")
    for row in rows:
        if len(row) > 8:
            raise _bad("reply markup is too long")
        for button in row:
            if not isinstance(button, dict):
                raise _bad("can't parse inline keyboard button: object expected")
            label = button.get("text")
            if not isinstance(label, str) or not label.strip():
                raise _bad("can't parse inline keyboard button: Text must be non-empty")
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if not actions:
                raise _bad(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                raise _bad(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, found {', '.join(actions)}"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
            if "url" in button:
                _check_button_url(str(button["url"]))


def _check_button_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "tg"):
        raise _bad(f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol")
    if parts.scheme != "tg" and not parts.hostname:
        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _check_scope(scope: Any) -> None:
    if scope is None:
        return
    kinds = {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
    if not isinstance(scope, dict) or scope.get("type") not in kinds:
        raise _bad("can't parse BotCommandScope JSON object")
    if scope["type"].startswith("chat") and "chat_id" not in scope:
        raise _bad("chat_id is empty")


def _chat_key(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if _NUMERIC_RE.fullmatch(text) else text
