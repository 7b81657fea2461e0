"""The therapist handlers in the order they must be tried, and the dialogue's states."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import DIALOGUE_CHATS_KEY, BotApplication, BotContext
from bot.handlers.therapist.common import (
    CONSENT_REVIEW,
    CONSENT_TEXT,
    COUNT,
    DUE,
    EDIT_MENU,
    EVERY_N,
    GROUP,
    PRIVATE,
    Q_ALERT,
    Q_DESC,
    Q_DETAIL,
    Q_INTEGER,
    Q_LINK,
    Q_MORE,
    Q_REQUIRED,
    Q_TYPE,
    REMOVE_PICK,
    REPEAT,
    REPEAT_END,
    REVIEW,
    TITLE,
    UNTIL,
    Handler,
)
from bot.handlers.therapist.consent import pick_consent, setconsent_start, type_consent
from bot.handlers.therapist.dialogue import (
    cancel,
    chats_in_dialogue,
    keep_current,
    newtask_start,
    pick_alert,
    pick_group,
    pick_integer,
    pick_more,
    pick_repeat,
    pick_repeat_end,
    pick_required,
    pick_review,
    pick_type,
    skip_alert,
    skip_detail,
    skip_link,
    type_alert,
    type_count,
    type_description,
    type_detail,
    type_due,
    type_every_n,
    type_group,
    type_link,
    type_repeat,
    type_title,
    type_until,
    unexpected,
)
from bot.handlers.therapist.edittask import edittask_start, pick_edit, pick_remove
from bot.handlers.therapist.governance import audit, audit_press
from bot.handlers.therapist.groups import (
    add_therapist,
    invite,
    list_groups,
    list_patients,
    new_group,
    remove_patient,
    remove_therapist,
    revoke,
)
from bot.handlers.therapist.patientpage import (
    media_command,
    media_press,
    page_press,
    patient_command,
    report_patients_press,
)
from bot.handlers.therapist.reports import export, report
from bot.handlers.therapist.tasks import (
    add_task_line,
    delete_task_command,
    delete_task_press,
    preview,
    preview_press,
    show_task,
    stale_dialogue_press,
    tasks_for_therapist,
)
from bot.handlers.therapist.teams import (
    TEAM_PREFIX,
    add_to_team,
    remove_from_team,
    remove_from_team_press,
    show_team,
)

log = logging.getLogger(__name__)


def _text_step(callback: Handler) -> MessageHandler[BotContext, Any]:
    return MessageHandler(filters.TEXT & ~filters.COMMAND & PRIVATE, callback)


def _press(callback: Handler, pattern: str) -> CallbackQueryHandler[BotContext, Any]:
    return CallbackQueryHandler(callback, pattern=pattern)


def _dialogue() -> ConversationHandler[BotContext]:
    states: dict[object, list[Any]] = {
        GROUP: [_press(pick_group, r"^tg:\d+$"), _text_step(type_group)],
        TITLE: [_text_step(type_title)],
        DUE: [_text_step(type_due)],
        REPEAT: [_press(pick_repeat, r"^tr:\w+$"), _text_step(type_repeat)],
        EVERY_N: [_text_step(type_every_n)],
        REPEAT_END: [_press(pick_repeat_end, r"^tn:\w+$")],
        UNTIL: [_text_step(type_until)],
        COUNT: [_text_step(type_count)],
        # Changing a question: each step's "Keep as it is" (tk:<step>) counts on its own step
        # only; an earlier step's, still on the screen, is a stale button.
        Q_DESC: [_press(keep_current, r"^tk:text$"), _text_step(type_description)],
        Q_LINK: [
            _press(skip_link, r"^tl:skip$"),
            _press(keep_current, r"^tk:link$"),
            _text_step(type_link),
        ],
        Q_TYPE: [_press(pick_type, r"^tt:\w+$"), _press(keep_current, r"^tk:type$")],
        Q_DETAIL: [
            _press(skip_detail, r"^tb:skip$"),
            _press(keep_current, r"^tk:detail$"),
            _text_step(type_detail),
        ],
        Q_INTEGER: [_press(pick_integer, r"^ti:[yn]$"), _press(keep_current, r"^tk:integer$")],
        Q_REQUIRED: [
            _press(pick_required, r"^tq:[yn]$"),
            _press(keep_current, r"^tk:required$"),
        ],
        Q_ALERT: [
            _press(keep_current, r"^tk:alert$"),
            _press(skip_alert, r"^ta:skip:\d+$"),
            _press(pick_alert, r"^ta:r:\d+:\d+$"),
            _text_step(type_alert),
        ],
        Q_MORE: [_press(pick_more, r"^tm:(add|done)$")],
        REVIEW: [_press(pick_review, r"^tv:(save|cancel)$")],
        EDIT_MENU: [_press(pick_edit, r"^te:\d+:(due|repeat|addq|rmq|chq|done)$")],
        REMOVE_PICK: [_press(pick_remove, r"^te:\d+:(rm|ch):\d+$")],
        CONSENT_TEXT: [_text_step(type_consent)],
        CONSENT_REVIEW: [_press(pick_consent, r"^tc:(save|cancel)$")],
    }
    with warnings.catch_warnings():
        # per_message=False is what we want (the dialogue spans many messages); PTB warns that
        # button presses are then tracked per chat, which is exactly the intent.
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler("newtask", newtask_start, filters=PRIVATE),
                CommandHandler("edittask", edittask_start, filters=PRIVATE),
                CommandHandler("setconsent", setconsent_start, filters=PRIVATE),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel, filters=PRIVATE),
                _press(unexpected, DIALOGUE_PATTERN),
                MessageHandler(~filters.COMMAND & PRIVATE, unexpected),
            ],
            allow_reentry=True,
            per_chat=True,
            per_user=True,
            name="admin_dialogue",
        )


# Buttons of the dialogues (see keyboards.py): group, repeat, repeat end, type, link, bounds,
# integer, required, alert, more, review, edit, consent, keep (changing a question).
DIALOGUE_PATTERN = r"^t[grntlbiqamveck]:"

COMMANDS: list[tuple[str, Handler]] = [
    ("addtask", add_task_line),
    ("task", show_task),
    ("deletetask", delete_task_command),
    ("preview", preview),
    ("report", report),
    ("export", export),
    ("groups", list_groups),
    ("newgroup", new_group),
    ("patients", list_patients),
    ("removepatient", remove_patient),
    ("invite", invite),
    ("revoke", revoke),
    ("addtherapist", add_therapist),
    ("removetherapist", remove_therapist),
    ("audit", audit),
    ("patient", patient_command),
    ("media", media_command),
    ("team", show_team),
    ("addtoteam", add_to_team),
    ("removefromteam", remove_from_team),
]


def register(application: BotApplication) -> None:
    """Add the admin handlers: the dialogue first, so it sees its own replies."""
    application.bot_data[DIALOGUE_CHATS_KEY] = chats_in_dialogue
    application.add_handler(CommandHandler("tasks", tasks_for_therapist, filters=PRIVATE), -1)
    application.add_handler(_dialogue())
    for command, callback in COMMANDS:
        application.add_handler(CommandHandler(command, callback, filters=PRIVATE))
    application.add_handler(CallbackQueryHandler(delete_task_press, pattern=r"^td:"))
    application.add_handler(CallbackQueryHandler(preview_press, pattern=r"^tp:"))
    application.add_handler(CallbackQueryHandler(audit_press, pattern=r"^au:"))
    application.add_handler(CallbackQueryHandler(page_press, pattern=r"^p[po]:"))
    application.add_handler(CallbackQueryHandler(media_press, pattern=r"^pm:"))
    application.add_handler(CallbackQueryHandler(report_patients_press, pattern=r"^rp:"))
    application.add_handler(
        CallbackQueryHandler(remove_from_team_press, pattern=rf"^{TEAM_PREFIX}:")
    )
    application.add_handler(CallbackQueryHandler(stale_dialogue_press, pattern=DIALOGUE_PATTERN))
