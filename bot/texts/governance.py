"""Clinical governance: the audit trail's pages, the command line's audit file, /mydata."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html import escape, unescape
from typing import Any

from bot.services.audit import ActorRole, AuditAction, ObjectKind
from bot.services.audit_view import PAGE_SIZE, AuditEntry, AuditPage
from bot.services.datarights import PersonalData
from bot.texts.language import N_, _, counted, ngettext

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
    AuditAction.GROUP_CREATED: N_("group created"),
    AuditAction.GROUP_EDITED: N_("group changed"),
    AuditAction.TASK_CREATED: N_("task created"),
    AuditAction.TASK_EDITED: N_("task edited"),
    AuditAction.TASK_DELETED: N_("task deleted"),
    AuditAction.QUESTION_CREATED: N_("question added"),
    AuditAction.QUESTION_DELETED: N_("question removed"),
    AuditAction.QUESTION_EDITED: N_("question changed"),
    AuditAction.INVITE_CREATED: N_("invite made"),
    AuditAction.INVITE_EDITED: N_("invite changed"),
    AuditAction.INVITE_REVOKED: N_("invite revoked"),
    AuditAction.PATIENT_REMOVED: N_("patient removed"),
    AuditAction.THERAPIST_ADDED: N_("therapist added"),
    AuditAction.THERAPIST_REMOVED: N_("therapist removed"),
    AuditAction.TEAM_MEMBER_ADDED: N_("put on the group's team"),
    AuditAction.TEAM_MEMBER_REMOVED: N_("taken off the group's team"),
    AuditAction.DATA_EXPORTED: N_("data exported"),
    AuditAction.DATA_ERASED: N_("data erased at the patient's request"),
    AuditAction.RETENTION_PURGE: N_("old answers purged (retention)"),
    AuditAction.LANGUAGE_CHOSEN: N_("language chosen"),
    AuditAction.CONSENT_GIVEN: N_("consent given"),
    AuditAction.CONSENT_WITHDRAWN: N_("consent withdrawn"),
    AuditAction.CONSENT_CHANGED: N_("consent text changed"),
    AuditAction.RECORD_VIEWED: N_("patient's answers viewed"),
}
_ROLES = {
    ActorRole.ADMINISTRATOR: N_("administrator"),
    ActorRole.THERAPIST: N_("therapist"),
    ActorRole.PATIENT: N_("a patient"),
    ActorRole.OPERATOR: N_("command line"),
    ActorRole.SYSTEM: N_("the bot"),
}


# What an event changed, in the reader's words ("Einladung 4 in Hip Therapy 1").
_OBJECTS = {
    ObjectKind.GROUP: N_("group"),
    ObjectKind.TASK: N_("task"),
    ObjectKind.QUESTION: N_("question"),
    ObjectKind.INVITE: N_("invite"),
    ObjectKind.PERSON: N_("person"),
    ObjectKind.CHECK_INS: N_("check-ins"),
}


def audit_menu() -> str:
    return _("Who changed what: /audit [GROUP] [DAYS]")


def audit_usage() -> str:
    return _(
        "Usage: /audit [GROUP] [DAYS], for example /audit, /audit 7 or "
        "/audit Shoulder Therapy 1 30. A lone number is DAYS."
    )


def audit_bad_days(most: int) -> str:
    return _("DAYS must be a whole number from 1 to {most}.").format(most=most)


def audit_button_older() -> str:
    return _("◀ Older")


def audit_button_newer() -> str:
    return _("Newer ▶")


def _scope(page: AuditPage) -> str:
    name = page.group_name
    if name:
        where = _("group <b>{name}</b>").format(name=escape(_cut(name, SHOWN_GROUP)))
    else:
        where = _("your groups") if page.team_only else _("all groups")
    when = (
        ngettext("last day", "last {days} days", page.days).format(days=page.days)
        if page.days
        else _("all time")
    )
    return f"{where}, {when}"


def audit_empty(page: AuditPage) -> str:
    return _("Audit trail ({page}): no events.").format(page=_scope(page))


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
            lines.append(
                _("    {name}: was {before}").format(
                    name=escape(name), before=_value(before[name])
                )
            )
    return lines


def _entry(entry: AuditEntry) -> str:
    who = _(_ROLES[entry.actor_role])
    if entry.actor_telegram_id is not None:
        who += f" {entry.actor_telegram_id}"
    what = f"{_(_OBJECTS[entry.object_kind])} {entry.object_id}" if entry.object_id else ""
    where = (
        _(" in {group_name}").format(group_name=escape(_cut(entry.group_name, SHOWN_GROUP)))
        if entry.group_name
        else ""
    )
    head = _("{at:%Y-%m-%d %H:%M} UTC · {who} · <b>{action}</b>").format(
        at=entry.at, who=who, action=_(_ACTIONS[entry.action])
    )
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
    return _("    … (patientbot audit --out FILE has every field)")


def audit_page(page: AuditPage) -> str:
    """One page of the trail, newest first, with the events' place in the whole list."""
    if not page.entries:
        return audit_empty(page)
    first, last = page.offset + 1, page.offset + len(page.entries)
    lines = [
        _("Audit trail ({page}), events {first}–{last}, newest first:").format(
            page=_scope(page), first=first, last=last
        ),
        "",
    ]
    lines += [_entry(entry) for entry in page.entries]
    return "\n".join(lines)


def cli_audit_written(events: int, path: str) -> str:
    return ngettext(
        "Wrote {events} audit event to {path}.", "Wrote {events} audit events to {path}.", events
    ).format(events=events, path=path)


def mydata_menu() -> str:
    return _("Everything stored about you, as one file")


def mydata_nothing() -> str:
    return _("Nothing is stored about you: you have not joined a group.")


def mydata_caption(data: PersonalData) -> str:
    return _("Everything stored about you: {memberships}, {checkins} and {answers}.").format(
        memberships=counted("{n} group membership", "{n} group memberships", data.memberships),
        checkins=counted("{n} check-in", "{n} check-ins", data.checkins),
        answers=counted("{n} answer", "{n} answers", data.answers),
    )


def mydata_filename(now: datetime) -> str:
    return f"my-data-{now:%Y-%m-%d}.json"


def mydata_file(data: PersonalData, now: datetime) -> bytes:
    """The JSON file /mydata sends: a short readable header, then the data as stored."""
    document = {
        "about": (
            _(
                "Everything this check-in bot stores about you: your profile, the groups you "
                "belong to, the consent texts you agreed to (the words of each version, and "
                "when), and every check-in with its answers and the question each answered. "
                "Times are UTC. Photos and videos are kept by Telegram; telegram_file_id names "
                "them. /deletemydata erases your answers, check-ins, name and Telegram id."
            )
        ),
        "exported_at": now.isoformat(),
        **data.data,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
