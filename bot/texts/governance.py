"""Clinical governance: the audit trail's pages, the command line's audit file, /mydata."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html import escape, unescape
from typing import Any

from bot.services.audit import ActorRole, AuditAction
from bot.services.audit_view import PAGE_SIZE, AuditEntry, AuditPage
from bot.services.datarights import PersonalData

__all__ = [
    "audit_bad_days",
    "audit_button_newer",
    "audit_button_older",
    "audit_empty",
    "audit_menu",
    "audit_more",
    "audit_page",
    "audit_usage",
    "cli_audit_written",
    "mydata_caption",
    "mydata_file",
    "mydata_filename",
    "mydata_menu",
    "mydata_nothing",
]

_ACTIONS = {
    AuditAction.GROUP_CREATED: "group created",
    AuditAction.TASK_CREATED: "task created",
    AuditAction.TASK_EDITED: "task edited",
    AuditAction.TASK_DELETED: "task deleted",
    AuditAction.QUESTION_CREATED: "question added",
    AuditAction.QUESTION_DELETED: "question removed",
    AuditAction.QUESTION_EDITED: "question changed",
    AuditAction.INVITE_CREATED: "invite made",
    AuditAction.INVITE_REVOKED: "invite revoked",
    AuditAction.PATIENT_REMOVED: "patient removed",
    AuditAction.THERAPIST_ADDED: "therapist added",
    AuditAction.THERAPIST_REMOVED: "therapist removed",
    AuditAction.TEAM_MEMBER_ADDED: "put on the group's team",
    AuditAction.TEAM_MEMBER_REMOVED: "taken off the group's team",
    AuditAction.DATA_EXPORTED: "data exported",
    AuditAction.DATA_ERASED: "data erased at the patient's request",
    AuditAction.RETENTION_PURGE: "old answers purged (retention)",
    AuditAction.CONSENT_GIVEN: "consent given",
    AuditAction.CONSENT_WITHDRAWN: "consent withdrawn",
    AuditAction.CONSENT_CHANGED: "consent text changed",
}
_ROLES = {
    ActorRole.ADMINISTRATOR: "administrator",
    ActorRole.THERAPIST: "therapist",
    ActorRole.PATIENT: "a patient",
    ActorRole.OPERATOR: "command line",
    ActorRole.SYSTEM: "the bot",
}


def audit_menu() -> str:
    return "Who changed what: /audit [GROUP] [DAYS]"


def audit_usage() -> str:
    return (
        "Usage: /audit [GROUP] [DAYS], for example /audit, /audit 7 or "
        "/audit Shoulder Therapy 1 30. A lone number is DAYS."
    )


def audit_bad_days(most: int) -> str:
    return f"DAYS must be a whole number from 1 to {most}."


def audit_button_older() -> str:
    return "◀ Older"


def audit_button_newer() -> str:
    return "Newer ▶"


def _scope(page: AuditPage) -> str:
    name = page.group_name
    where = f"group <b>{escape(_cut(name, SHOWN_GROUP))}</b>" if name else "all groups"
    when = f"last {page.days} days" if page.days else "all time"
    return f"{where}, {when}"


def audit_empty(page: AuditPage) -> str:
    return f"Audit trail ({_scope(page)}): no events."


# A page must fit one message whatever was typed (a title of 200 characters, 20 questions of
# 1,000): values are cut here, the CSV of `patientbot audit` has them whole.
SHOWN_VALUE = 60
SHOWN_GROUP = 40
# Telegram's 4,096 characters, less the page's first line, shared by a page's events.
ENTRY_BUDGET = (4096 - 200) // PAGE_SIZE - 1


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _value(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return escape(_cut(shown, SHOWN_VALUE))


def _fields(entry: AuditEntry) -> list[str]:
    before, after = entry.before or {}, entry.after or {}
    lines = []
    for name in list(dict.fromkeys([*before, *after])):
        if name in before and name in after and before[name] == after[name]:
            lines.append(f"    {escape(name)}: {_value(after[name])}")
        elif name in before and name in after:
            lines.append(f"    {escape(name)}: {_value(before[name])} → {_value(after[name])}")
        elif after.get(name) is not None:
            lines.append(f"    {escape(name)}: {_value(after[name])}")
        elif before.get(name) is not None:
            lines.append(f"    {escape(name)}: was {_value(before[name])}")
    return lines


def _entry(entry: AuditEntry) -> str:
    who = _ROLES[entry.actor_role]
    if entry.actor_telegram_id is not None:
        who += f" {entry.actor_telegram_id}"
    what = f"{entry.object_kind.value} {entry.object_id}" if entry.object_id else ""
    where = f" in {escape(_cut(entry.group_name, SHOWN_GROUP))}" if entry.group_name else ""
    head = f"{entry.at:%Y-%m-%d %H:%M} UTC · {who} · <b>{_ACTIONS[entry.action]}</b>"
    if what or where:
        head += f" · {what}{where}".rstrip()
    lines, used = [head], _shown(head)
    for line in _fields(entry):
        if used + 1 + _shown(line) > ENTRY_BUDGET - len(audit_more()) - 1:
            lines.append(audit_more())
            break
        lines.append(line)
        used += 1 + _shown(line)
    return "\n".join(lines)


def _shown(text: str) -> int:
    """Characters a reader sees (Telegram counts these, not the markup)."""
    return len(unescape(re.sub(r"<[^>]+>", "", text)))


def audit_more() -> str:
    return "    … (patientbot audit --out FILE has every field)"


def audit_page(page: AuditPage) -> str:
    """One page of the trail, newest first, with the events' place in the whole list."""
    if not page.entries:
        return audit_empty(page)
    first, last = page.offset + 1, page.offset + len(page.entries)
    lines = [f"Audit trail ({_scope(page)}), events {first}–{last}, newest first:", ""]
    lines += [_entry(entry) for entry in page.entries]
    return "\n".join(lines)


def cli_audit_written(events: int, path: str) -> str:
    return f"Wrote {events} audit event{'' if events == 1 else 's'} to {path}."


def mydata_menu() -> str:
    return "Everything stored about you, as one file"


def mydata_nothing() -> str:
    return "Nothing is stored about you: you have not joined a group."


def mydata_caption(data: PersonalData) -> str:
    return (
        f"Everything stored about you: {data.memberships} group membership"
        f"{'' if data.memberships == 1 else 's'}, {data.checkins} check-in"
        f"{'' if data.checkins == 1 else 's'} and {data.answers} answer"
        f"{'' if data.answers == 1 else 's'}."
    )


def mydata_filename(now: datetime) -> str:
    return f"my-data-{now:%Y-%m-%d}.json"


def mydata_file(data: PersonalData, now: datetime) -> bytes:
    """The JSON file /mydata sends: a short readable header, then the data as stored."""
    document = {
        "about": (
            "Everything this check-in bot stores about you: your profile, the groups you "
            "belong to, the consent texts you agreed to (the words of each version, and when), "
            "and every check-in with its answers and the question each answered. "
            "Times are UTC. Photos and videos are kept by Telegram; telegram_file_id names "
            "them. /deletemydata erases your answers, check-ins, name and Telegram id."
        ),
        "exported_at": now.isoformat(),
        **data.data,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
