"""The Bot API methods the fake implements, their state helpers and their validation."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from fakebotapi.checks import (
    _chat_key,
    _check_markup,
    _check_scope,
    _check_webhook_url,
    _commands_key,
    _echo_markup,
    _int_or,
    _is_placeholder_name,
    _render_text,
    _require_chat,
    _require_edit_target,
)
from fakebotapi.records import (
    _CHAT_ACTIONS,
    _COMMAND_RE,
    _FILE_GONE,
    _NOT_MODIFIED,
    _SECRET_TOKEN_RE,
    JSON,
    ApiCall,
    _ApiError,
    _bad,
    _File,
    _Stored,
)

# Telegram takes an answer to a press for a short while only (seconds; it is not documented),
# then refuses it as "too old". A bot that handles presses late must not depend on it.
PRESS_ANSWER_SECONDS = 15.0
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"

# --- the methods, mixed into FakeBotApi ---------------------------------------------------


class BotApiMethods:
    """The methods' bodies; FakeBotApi (core.py) owns the state they read and write."""

    # Built by FakeBotApi.__init__; declared here so the methods type-check on their own.
    bot_id: int
    bot_username: str
    bot_first_name: str
    wall_clock: Callable[[], float]
    local_mode: bool
    max_upload_bytes: int
    answered_callbacks: dict[str, dict[str, Any]]
    _presses_made: dict[str, float]
    webhook: JSON | None
    webhook_last_error: tuple[int, str] | None
    _chats: dict[int | str, dict[int, _Stored]]
    _last_message_id: dict[int | str, int]
    _message_id_floor: int
    _chat_names: dict[int | str, JSON]
    _files_by_id: dict[str, _File]
    _files_by_path: dict[str, _File]
    _file_seq: int
    _gone_files: set[str]
    _commands: dict[str, list[JSON]]
    _updates: deque[JSON]
    _rendered: dict[str, tuple[str, list[JSON]]]
    _media_group_seq: int = 0

    # --- methods ----------------------------------------------------------------------------

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _get_me(self, call: ApiCall) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _true(call: ApiCall) -> bool:
        return True

    def _send_message(self, call: ApiCall) -> JSON:
        p = call.params
        plain, entities = self._render(p, "text")
        markup = _echo_markup(p.get("reply_markup"))
        stored = self._new_message(call.chat_id, "text", p["text"], plain, entities, p, markup)
        return self._message_json(stored)

    def _send_document(self, call: ApiCall) -> JSON:
        return self._send_media(call, "document", "documents")

    def _send_photo(self, call: ApiCall) -> JSON:
        return self._send_media(call, "photo", "photos")

    def _send_video(self, call: ApiCall) -> JSON:
        return self._send_media(call, "video", "videos")

    def _send_media_group(self, call: ApiCall) -> list[JSON]:
        """An album: one message per item, sharing a media_group_id, in the order given."""
        self._media_group_seq += 1
        group_id = str(10**17 + self._media_group_seq)
        sent = []
        for item in _media_items(call.params):
            kind = str(item["type"])
            params = {**item, kind: item["media"]}
            item_call = ApiCall(call.method, params, call.files, call.at, chat_id=call.chat_id)
            message = self._send_media(item_call, kind, f"{kind}s")
            message["media_group_id"] = group_id
            sent.append(message)
        return sent

    def _send_media(self, call: ApiCall, kind: str, folder: str) -> JSON:
        p = call.params
        caption = p.get("caption")
        plain, entities = _render_text(p, "caption") if caption is not None else (None, [])
        upload = call.files.get(kind)
        if upload is not None:
            file = self._store_file(
                upload["content"], upload["filename"], upload["mimetype"], folder
            )
        else:
            reference = str(p[kind])
            known = self._files_by_id.get(reference)
            file = known or self._store_file(b"", reference.rsplit("/", 1)[-1], None, folder)
        media: Any
        base = {"file_id": file.file_id, "file_unique_id": file.file_unique_id}
        size = len(file.content)
        if kind == "document":
            media = {**base, "file_name": file.file_name, "file_size": size}
            if file.mime_type:
                media["mime_type"] = file.mime_type
        elif kind == "photo":
            width, height = _photo_size(file.content)
            thumb = 90 / max(width, height)
            media = [
                {
                    "file_id": file.file_id + "-thumb",
                    "file_unique_id": file.file_unique_id + "-thumb",
                    "width": max(1, round(width * thumb)),
                    "height": max(1, round(height * thumb)),
                },
                {**base, "width": width, "height": height, "file_size": size},
            ]
        else:
            media = {
                **base,
                "width": 1280,
                "height": 720,
                "duration": _int_or(p.get("duration"), 1),
                "file_size": size,
            }
            if file.mime_type:
                media["mime_type"] = file.mime_type
        markup = _echo_markup(p.get("reply_markup"))
        stored = self._new_message(call.chat_id, kind, caption, plain, entities, p, markup)
        stored.media = media
        return self._message_json(stored)

    def _edit_message_text(self, call: ApiCall) -> JSON:
        p = call.params
        stored = self._find_message(p, "message to edit not found")
        if stored.kind != "text":
            raise _bad("there is no text in the message to edit")
        plain, entities = self._render(p, "text")
        markup = _echo_markup(p.get("reply_markup"))
        if (plain, entities, markup) == (stored.plain, stored.entities, stored.reply_markup):
            raise _bad(_NOT_MODIFIED)
        stored.text, stored.plain, stored.entities = p["text"], plain, entities
        stored.parse_mode = p.get("parse_mode")
        # Leaving reply_markup out of an edit removes the keyboard, as on the real server.
        stored.reply_markup = markup
        stored.edit_date = int(self.wall_clock())
        return self._message_json(stored)

    def _edit_message_reply_markup(self, call: ApiCall) -> JSON:
        p = call.params
        stored = self._find_message(p, "message to edit not found")
        markup = _echo_markup(p.get("reply_markup"))
        if markup == stored.reply_markup:
            raise _bad(_NOT_MODIFIED)
        stored.reply_markup = markup
        stored.edit_date = int(self.wall_clock())
        return self._message_json(stored)

    def _delete_message(self, call: ApiCall) -> bool:
        stored = self._find_message(call.params, "message to delete not found")
        del self._chats[stored.chat_id][stored.message_id]
        return True

    def _answer_callback_query(self, call: ApiCall) -> bool:
        query_id = str(call.params["callback_query_id"])
        if query_id in self.answered_callbacks:
            raise _bad(_QUERY_TOO_OLD)
        made = self._presses_made.get(query_id)
        if made is not None and self.wall_clock() - made > PRESS_ANSWER_SECONDS:
            # Answered late, not wrongly: the bot could not know when Telegram stops taking it.
            raise _ApiError(400, f"Bad Request: {_QUERY_TOO_OLD}", invalid=False)
        self.answered_callbacks[query_id] = call.params
        return True

    def _send_chat_action(self, call: ApiCall) -> bool:
        return True

    def _set_my_commands(self, call: ApiCall) -> bool:
        p = call.params
        self._commands[_commands_key(p.get("scope"), p.get("language_code", ""))] = list(
            p["commands"]
        )
        return True

    def _get_my_commands(self, call: ApiCall) -> list[JSON]:
        p = call.params
        return self._commands.get(_commands_key(p.get("scope"), p.get("language_code", "")), [])

    def _delete_my_commands(self, call: ApiCall) -> bool:
        p = call.params
        self._commands.pop(_commands_key(p.get("scope"), p.get("language_code", "")), None)
        return True

    def _set_webhook(self, call: ApiCall) -> bool:
        p = call.params
        if p.get("drop_pending_updates"):
            self._updates.clear()
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or None
        self.webhook = dict(p) if p["url"] else None
        self.webhook_last_error = None
        return True

    def _delete_webhook(self, call: ApiCall) -> bool:
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    def _get_webhook_info(self, call: ApiCall) -> JSON:
        hook = self.webhook or {}
        info: JSON = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook:
            info["max_connections"] = int(hook.get("max_connections") or 40)
        for key in ("allowed_updates", "ip_address"):
            if key in hook:
                info[key] = hook[key]
        if hook and self.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    def _get_file(self, call: ApiCall) -> JSON:
        file = self._files_by_id.get(str(call.params["file_id"]))
        if file is None:
            raise _bad("invalid file_id")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": len(file.content),
            "file_path": file.file_path,
        }

    # --- state helpers ----------------------------------------------------------------------

    def _new_message_id(self, key: int | str) -> int:
        message_id = max(self._last_message_id.get(key, 0), self._message_id_floor) + 1
        self._last_message_id[key] = message_id
        return message_id

    def _new_message(
        self,
        chat_id: int | str | None,
        kind: str,
        text: str | None,
        plain: str | None,
        entities: list[JSON],
        params: JSON,
        markup: JSON | None,
    ) -> _Stored:
        assert chat_id is not None  # validated before any handler runs
        stored = _Stored(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            date=int(self.wall_clock()),
            text=text,
            plain=plain,
            entities=entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
        )
        self._chats.setdefault(chat_id, {})[stored.message_id] = stored
        return stored

    def _find_message(self, params: JSON, not_found: str) -> _Stored:
        if "inline_message_id" in params:
            # The bot sends no inline messages, so none can be found.
            raise _bad(not_found)
        key = _chat_key(params.get("chat_id"))
        message_id = params.get("message_id")
        if key is None or not isinstance(message_id, int):
            raise _bad(not_found)
        stored = self._chats.get(key, {}).get(message_id)
        if stored is None:
            raise _bad(not_found)
        return stored

    def _chat_json(self, chat_id: int | str) -> JSON:
        named = self._chat_names.get(chat_id)
        if named is not None:
            return named
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Patient"}
        if isinstance(chat_id, int):
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": "Group"}
        return {"id": chat_id, "type": "channel", "title": "Channel"}

    def _message_json(self, stored: _Stored) -> JSON:
        message: JSON = {
            "message_id": stored.message_id,
            "date": stored.date,
            "chat": self._chat_json(stored.chat_id),
            "from": self._bot_user(),
        }
        if stored.kind == "text":
            message["text"] = stored.plain
            if stored.entities:
                message["entities"] = stored.entities
        else:
            message[stored.kind] = stored.media
            if stored.plain is not None:
                message["caption"] = stored.plain
                if stored.entities:
                    message["caption_entities"] = stored.entities
        if stored.reply_markup is not None:
            message["reply_markup"] = stored.reply_markup
        if stored.edit_date is not None:
            message["edit_date"] = stored.edit_date
        return message

    def _store_file(
        self,
        content: bytes,
        file_name: str | None,
        mime_type: str | None,
        folder: str,
        *,
        file_id: str | None = None,
    ) -> _File:
        self._file_seq += 1
        seq = self._file_seq
        suffix = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        file = _File(
            file_id=file_id or f"fake-file-{seq}",
            file_unique_id=f"fake-unique-{seq}",
            file_path=f"{folder}/file_{seq}.{suffix}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files_by_id[file.file_id] = file
        self._files_by_path[file.file_path] = file
        return file

    # --- validation -------------------------------------------------------------------------

    def _render(self, params: JSON, key: str) -> tuple[str, list[JSON]]:
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = _render_text(params, key)
        return rendered

    def _validate_send_message(self, params: JSON, files: JSON) -> None:
        _require_chat(params)
        self._render(params, "text")
        _check_markup(params.get("reply_markup"), inline_only=False)

    def _validate_media(self, kind: str, params: JSON, files: JSON) -> None:
        _require_chat(params)
        upload = files.get(kind)
        if upload is None:
            reference = params.get(kind)
            if not isinstance(reference, str) or not reference:
                raise _bad(f"there is no {kind} in the request")
            if reference in self._gone_files:
                raise _ApiError(400, _FILE_GONE, invalid=False)
            is_url = reference.startswith(("http://", "https://"))
            if not is_url and reference not in self._files_by_id:
                raise _bad("wrong file identifier/HTTP URL specified")
        elif len(upload["content"]) > self.max_upload_bytes:
            raise _ApiError(413, "Request Entity Too Large")
        elif kind == "document" and _is_placeholder_name(upload):
            # PTB invents "<type>.<subtype>" when the bot gave no name; the person would get
            # a file called "application.octet-stream".
            raise _bad("document filename is missing")
        if params.get("caption") is not None:
            self._render(params, "caption")
        _check_markup(params.get("reply_markup"), inline_only=False)

    def _validate_media_group(self, params: JSON, files: JSON) -> None:
        """As Telegram: 2 to 10 InputMediaPhoto/InputMediaVideo, each caption at most 1024."""
        _require_chat(params)
        raw = params.get("media")
        if isinstance(raw, str):
            # Over HTTP the array arrives JSON-encoded, as Telegram receives it.
            try:
                raw = json.loads(raw)
            except ValueError:
                raise _bad("can't parse media JSON object") from None
            params["media"] = raw
        if not isinstance(raw, list):
            raise _bad('parameter "media" is required')
        if not 2 <= len(raw) <= 10:
            raise _bad("MEDIA_GROUP_COUNT_INVALID: media group must include 2-10 items")
        for item in raw:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video"):
                # Documents and audio make albums of their own; the bot sends neither.
                raise _bad("can't parse InputMedia: unsupported or missing media type")
            kind = str(item["type"])
            self._validate_media(kind, {"chat_id": params["chat_id"], kind: item.get("media")}, {})
            if item.get("caption") is not None:
                _render_text(item, "caption")
        _check_markup(params.get("reply_markup"), inline_only=False)
        if "reply_markup" in params:
            raise _bad("media groups take no reply_markup")

    def _validate_edit_text(self, params: JSON, files: JSON) -> None:
        _require_edit_target(params)
        self._render(params, "text")
        _check_markup(params.get("reply_markup"), inline_only=True)

    def _validate_edit_markup(self, params: JSON, files: JSON) -> None:
        _require_edit_target(params)
        _check_markup(params.get("reply_markup"), inline_only=True)

    def _validate_delete(self, params: JSON, files: JSON) -> None:
        _require_chat(params)
        if not isinstance(params.get("message_id"), int):
            raise _bad("message identifier is not specified")

    def _validate_answer_callback(self, params: JSON, files: JSON) -> None:
        if not params.get("callback_query_id"):
            raise _bad("callback_query_id is empty")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG: callback query answer text is longer than 200")
        url = params.get("url")
        if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
            raise _bad("URL_INVALID")

    def _validate_chat_action(self, params: JSON, files: JSON) -> None:
        _require_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")

    def _validate_set_commands(self, params: JSON, files: JSON) -> None:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        _check_scope(params.get("scope"))

    def _validate_commands_scope(self, params: JSON, files: JSON) -> None:
        _check_scope(params.get("scope"))

    def _validate_set_webhook(self, params: JSON, files: JSON) -> None:
        url = params.get("url")
        if not isinstance(url, str):
            raise _bad('parameter "url" is required')
        if url:
            _check_webhook_url(url, local=self.local_mode)
        connections = params.get("max_connections")
        if connections is not None and not 1 <= _int_or(connections, 0) <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")

    def _validate_get_file(self, params: JSON, files: JSON) -> None:
        if not params.get("file_id"):
            raise _bad("file_id is empty")


def _media_items(params: JSON) -> list[JSON]:
    media = params["media"]
    return [dict(item) for item in (json.loads(media) if isinstance(media, str) else media)]


def _photo_size(content: bytes) -> tuple[int, int]:
    """A photo's size as Telegram reports it: an uploaded PNG's own, at most 1280 a side.

    Other uploads (and sent file ids) keep the fixed 1280 x 960 of a phone camera.
    """
    if content[:8] != b"\x89PNG\r\n\x1a\n" or len(content) < 24:
        return 1280, 960
    width, height = int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    scale = min(1.0, 1280 / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
