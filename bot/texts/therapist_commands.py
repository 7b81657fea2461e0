"""What a therapist reads around the admin commands: menus, help, usage, groups, invites,
patients, therapists, and the refusals of the one-line task form.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import bot.texts.language as language
from bot.texts.language import N_, _, counted, listed, ngettext, quoted
from bot.texts.schedule import describe_rule

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import date as date_
    from datetime import time as time_

    from bot.services.authoring import (
        GroupSummary,
        InviteInfo,
        PatientList,
        RemovedPatient,
    )


# --- admin (therapist commands) -----------------------------------------------------------
# Used by bot/handlers/therapist/, bot/services/authoring/ and bot/services/reports.py.

_ADMIN_TYPE_LABELS = {
    "yes_no": N_("Yes / No"),
    "scale": N_("Scale"),
    "number": N_("Number"),
    "choice": N_("Choice"),
    "text": N_("Text"),
    "photo": N_("Photo"),
    "video": N_("Video"),
}


# A count and its word, in the form the count needs ("1 completado", "2 completados"): the
# words after a number agree with it in Spanish. In this order on /task's line.
_ADMIN_STATUS_COUNTS: dict[str, Callable[[int], str]] = {
    "completed": lambda n: ngettext("{n} completed", "{n} completed", n),
    "in_progress": lambda n: ngettext("{n} in progress", "{n} in progress", n),
    "sent": lambda n: ngettext("{n} sent, not started", "{n} sent, not started", n),
    "pending": lambda n: ngettext("{n} due, being sent", "{n} due, being sent", n),
    "sending": lambda n: ngettext("{n} being sent", "{n} being sent", n),
    "expired": lambda n: ngettext("{n} expired", "{n} expired", n),
    "skipped": lambda n: ngettext("{n} skipped", "{n} skipped", n),
    "failed": lambda n: ngettext("{n} could not be delivered", "{n} could not be delivered", n),
    "cancelled": lambda n: ngettext("{n} cancelled", "{n} cancelled", n),
    "upcoming": lambda n: ngettext("{n} upcoming", "{n} upcoming", n),
}


def status_count(status: str, count: int) -> str:
    """ "3 completed": a count of check-ins in one status, in the reader's words."""
    return _ADMIN_STATUS_COUNTS[status](count).format(n=count)


def _admin_date(day: date_) -> str:
    """A date such as "Tue 1 Dec 2026", in the reader's locale."""
    return language.day(day)


def _admin_moment(local: datetime) -> str:
    """A local date and time such as "Tue 1 Dec 2026, 10:00", in the reader's locale."""
    return language.date_time(local)


def _admin_instant(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return _("never again (the series is over)")
    from zoneinfo import ZoneInfo

    return f"{_admin_moment(moment.astimezone(ZoneInfo(zone)))} ({escape(zone)})"


def _admin_num(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _admin_rule(rule: str | None) -> str:
    return escape(describe_rule(rule))


def admin_refused() -> str:
    return _("This command is for therapists.")


def admin_stale_button() -> str:
    return _("This button is no longer active.")


def admin_wrong_step() -> str:
    return _(
        "I can't use that here. Please answer the last question above, "
        "or send /cancel to stop without saving."
    )


def admin_picked(label: str) -> str:
    return f"→ <b>{escape(label)}</b>"


def admin_cancelled() -> str:
    return _("Cancelled. Nothing was saved.")


def admin_not_saved() -> str:
    return _("Nothing was saved.")


def admin_dialogue_expired() -> str:
    return _(
        "Your unfinished task was left for too long and has been dropped; nothing was saved. "
        "Start again with /newtask or /edittask."
    )


# command menus (descriptions shown by Telegram next to each command)


def admin_menu_start() -> str:
    return _("Join your group with your therapist's code")


def admin_menu_tasks() -> str:
    return _("Your open check-ins")


def admin_menu_tasks_therapist() -> str:
    return _("Tasks of a group (or all): /tasks [GROUP]")


def admin_menu_pause() -> str:
    return _("Stop for now; continue later with /tasks")


def admin_menu_timezone() -> str:
    return _("Show or set your time zone")


def admin_menu_stop() -> str:
    return _("Stop receiving check-ins")


def admin_menu_deletemydata() -> str:
    return _("Erase your answers and leave your groups")


def admin_menu_language() -> str:
    return _("Change the language")


def admin_menu_help() -> str:
    return _("What you can do")


def admin_menu_newtask() -> str:
    return _("Create a task step by step")


def admin_menu_addtask() -> str:
    return _("Create a task in one message")


def admin_menu_task() -> str:
    return _("A task's details: /task ID")


def admin_menu_edittask() -> str:
    return _("Change a task: /edittask ID")


def admin_menu_deletetask() -> str:
    return _("Delete a task: /deletetask ID")


def admin_menu_preview() -> str:
    return _("See a task as a patient does: /preview ID")


def admin_menu_report() -> str:
    return _("Adherence: /report GROUP or /report #TASK")


def admin_menu_export() -> str:
    return _("All answers as CSV, or FHIR: /export [GROUP] [fhir]")


def admin_menu_groups() -> str:
    return _("Your groups")


def admin_menu_newgroup() -> str:
    return _("Create a group: /newgroup NAME")


def admin_menu_patients() -> str:
    return _("A group's patients: /patients GROUP")


def admin_menu_removepatient() -> str:
    return _("Remove a patient: /removepatient GROUP PATIENT")


def admin_menu_invite() -> str:
    return _("Invite link: /invite GROUP [DAYS] [USES]")


def admin_menu_revoke() -> str:
    return _("Stop an invite code: /revoke CODE")


def admin_menu_addtherapist() -> str:
    return _("Add a therapist: /addtherapist USER_ID")


def admin_menu_removetherapist() -> str:
    return _("Remove a therapist: /removetherapist USER_ID")


def admin_menu_cancel() -> str:
    return _("Leave /newtask or /edittask without saving")


def admin_line_format() -> str:
    return _(
        "<code>/addtask GROUP | TITLE | WHEN | REPEAT | QUESTION | QUESTION ...</code>\n"
        "Each QUESTION is <code>TEXT ; TYPE</code> followed by any of "
        "<code>; OPTIONS</code> (choice: <code>Left, Right, Both</code>), "
        "<code>; MIN-MAX</code> (number, scale: <code>0-50</code>), "
        "<code>; whole</code> (whole numbers only), <code>; max 500</code> (text length), "
        "<code>; ALERT</code> (<code>&gt;= 8</code>, <code>== no</code>), "
        "<code>; optional</code>, <code>; https://link</code>.\n"
        "TYPE is yes_no, scale, number, choice, text, photo or video. "
        "Line breaks may stand for the | signs.\n"
        "Example: <code>/addtask Hip Therapy 1 | Knee check | tomorrow 10:00 | daily x7 | "
        "Pain today? ; scale ; &gt;= 8 | Did you do the exercise? ; yes_no ; == no</code>"
    )


def admin_line_usage() -> str:
    return _("Write the task in one message:\n{value}").format(value=admin_line_format())


# help


def admin_help() -> str:
    return _(
        "<b>Therapist commands</b>\n"
        "<b>Groups</b>\n"
        "/groups – your groups with members and check-ins\n"
        "/newgroup NAME [ZONE] – create a group (ZONE such as Europe/London)\n"
        "/patients GROUP – a group's patients\n"
        "/removepatient GROUP PATIENT – remove a patient (telegram id or exact "
        "name); their answers stay\n"
        "/invite GROUP [DAYS] [USES] – an invite link (USES 0 = unlimited)\n"
        "/revoke CODE – stop an invite code\n"
        "/setconsent GROUP – a consent text patients agree to before joining (shown back "
        "before saving); /setconsent GROUP LANGUAGE – the same text in another language "
        "({languages}), for the patients who read it; /setconsent GROUP off – ask for none\n"
        "<b>Tasks</b>\n"
        "/newtask – create a task step by step; /cancel leaves without saving\n"
        "/addtask – create a task in one message:\n"
        "{value}\n"
        "/tasks [GROUP] – tasks with their next due time\n"
        "/task ID – details, questions and completion\n"
        "/edittask ID – change the due time or repetition, add or remove a "
        "question\n"
        "/deletetask ID – delete a task (asks first); answers stay\n"
        "/preview ID – see a task as a patient does\n"
        "<b>Reports</b>\n"
        "/report GROUP or /report #ID – adherence per patient\n"
        "/patient NAME – one patient's page: groups, adherence, every answer, their photos "
        "and videos (NAME: a name, a part of one, or a Telegram id)\n"
        "/media GROUP [DAYS] – the group's photo and video answers of the last DAYS (7)\n"
        "/chart GROUP or /chart PATIENT [QUESTION] – adherence and answers as "
        "a chart\n"
        "/export [GROUP] – all answers as a CSV file; /export [GROUP] fhir – "
        "as FHIR R4B\n"
        "<b>Therapists</b>\n"
        "/addtherapist USER_ID, /removetherapist USER_ID (administrators)\n"
        "/team GROUP, /addtoteam GROUP USER_ID, /removefromteam GROUP USER_ID – a group's care "
        "team: its therapists see it and get its alerts (administrators)\n"
        "/audit [GROUP] [DAYS] – who changed what, newest first\n"
        "GROUP is a group's name or its number from /groups."
    ).format(value=admin_line_format(), languages=", ".join(language.LANGUAGES))


# usage lines


def admin_usage_addtherapist() -> str:
    return _(
        "Usage: /addtherapist USER_ID – the person's numeric Telegram user id "
        "(they can see it with @userinfobot)."
    )


def admin_usage_removetherapist() -> str:
    return _("Usage: /removetherapist USER_ID")


def admin_usage_newgroup() -> str:
    return _(
        "Usage: /newgroup NAME [ZONE], for example /newgroup Shoulder Therapy 2 Europe/London"
    )


def admin_usage_patients() -> str:
    return _("Usage: /patients GROUP (the group's name or number, see /groups)")


def admin_usage_removepatient() -> str:
    return _(
        "Usage: /removepatient GROUP PATIENT, where PATIENT is the Telegram user id or the "
        "exact name shown by /patients GROUP."
    )


def admin_usage_invite() -> str:
    return _(
        "Usage: /invite GROUP [DAYS] [USES], for example /invite Shoulder Therapy 1 7 10 "
        "(valid 7 days, 10 uses; 0 uses means unlimited)."
    )


def admin_usage_revoke() -> str:
    return _("Usage: /revoke CODE (the code after start= in the invite link)")


def admin_usage_task() -> str:
    return _("Usage: /task ID, for example /task 3 (see /tasks for the numbers)")


def admin_usage_edittask() -> str:
    return _("Usage: /edittask ID, for example /edittask 3 (see /tasks for the numbers)")


def admin_usage_deletetask() -> str:
    return _("Usage: /deletetask ID, for example /deletetask 3 (see /tasks for the numbers)")


def admin_usage_preview() -> str:
    return _(
        "Usage: /preview ID [LANGUAGE], for example /preview 3, or /preview 3 de as a patient "
        "reading German sees it (see /tasks for the numbers)"
    )


def admin_usage_report() -> str:
    return _(
        "Usage: /report GROUP for a group (its name or number), "
        "or /report #ID (also /report task ID) for one task."
    )


# therapists


def admin_bad_user_id(text: str) -> str:
    return _("“{text}” is not a Telegram user id; it is a positive number.").format(
        text=escape(text)
    )


def admin_already_therapist(user_id: int) -> str:
    return _("{user_id} is already a therapist.").format(user_id=user_id)


def admin_therapist_added(user_id: int, menu_set: bool) -> str:
    menu = (
        _("Their command menu now shows the therapist commands.")
        if menu_set
        else _("Once they open a chat with the bot, /help lists the therapist commands.")
    )
    return _("{user_id} is now a therapist. {menu}").format(user_id=user_id, menu=menu)


def admin_therapist_in_config(user_id: int) -> str:
    return _(
        "{user_id} is a therapist by the bot's configuration file, so a "
        "command cannot remove them; ask whoever runs the bot to take them off "
        "[therapists] user_ids."
    ).format(user_id=user_id)


def admin_not_a_therapist(user_id: int) -> str:
    return _("{user_id} is not a therapist added with /addtherapist; nothing changed.").format(
        user_id=user_id
    )


def admin_therapist_removed(user_id: int) -> str:
    return _(
        "{user_id} is no longer a therapist: the admin commands are gone from "
        "their menu and they no longer get alerts."
    ).format(user_id=user_id)


# groups


def admin_unknown_group(ref: str, names: list[str]) -> str:
    if not names:
        return _(
            "There is no group “{ref}”; there are no groups yet. Create one with /newgroup NAME."
        ).format(ref=escape(ref))
    return _("There is no group “{ref}”. Groups: {listing}.").format(
        ref=quoted(ref), listing=listed(names, ", ")
    )


def admin_group_name_missing() -> str:
    return _("Please give the group a name, for example /newgroup Shoulder Therapy 2")


def admin_group_name_too_long(most: int) -> str:
    return _("That name is too long; keep it to {most} characters.").format(most=most)


def admin_group_name_reserved(name: str) -> str:
    return _(
        "“{name}” can't be a group name: a name must not be only a number, "
        "start with # or look like “task 3”, and must not contain |."
    ).format(name=escape(name))


def admin_group_unknown_zone(zone: str) -> str:
    return _(
        "No group was created: “{zone}” isn't a time zone name I know. Write the zone last, "
        "as a name such as <code>Europe/Berlin</code> or <code>America/New_York</code> "
        "(continent or ocean, a slash, then a large city) or <code>UTC</code>. A name whose "
        'last word holds a slash goes in quotes: <code>/newgroup "Knee A/B"</code>.'
    ).format(zone=escape(zone))


def admin_group_exists(name: str) -> str:
    return _("There is already a group called “{name}”.").format(name=escape(name))


def admin_group_name_taken() -> str:
    return _(
        "That name cannot be used for a new group. Please choose another, for example with "
        "your clinic's name or a number in it."
    )


def admin_group_gone() -> str:
    return _("That group no longer exists.")


def admin_group_created(name: str, group_id: int, zone: str) -> str:
    return _(
        "Created the group <b>{name}</b> (number {group_id}, due times in "
        "{zone}). You are its therapist and get its alerts.\n"
        "Next: /invite {name} for a link patients can join with, and /newtask "
        "to give the group a task."
    ).format(name=escape(name), group_id=group_id, zone=escape(zone))


def admin_groups(groups: Sequence[GroupSummary]) -> str:
    if not groups:
        return _("There are no groups yet. Create one with /newgroup NAME.")
    lines = [_("<b>Groups</b>")]
    for g in groups:
        lines.append("")
        name, zone = escape(g.group.name), escape(g.group.zone)
        lines.append(
            _("<b>{name}</b> (number {id}, {zone})").format(name=name, id=g.group.id, zone=zone)
        )
        lines.append(
            " · ".join(
                (
                    counted("{n} patient", "{n} patients", g.patients),
                    counted("{n} therapist", "{n} therapists", g.therapists),
                    counted("{n} task", "{n} tasks", g.tasks),
                )
            )
        )
        lines.append(
            _("Check-ins: {counts}").format(
                counts=" · ".join(
                    (
                        counted("{n} open", "{n} open", g.open),
                        status_count("completed", g.completed),
                        status_count("upcoming", g.upcoming),
                    )
                )
            )
        )
        for code in g.demo_codes:
            lines.append(
                _(
                    "⚠️ Demo invite code <code>{code}</code> still lets anyone who guesses "
                    "it join: /revoke {code} when the demo is over."
                ).format(code=escape(code))
            )
        for former in g.former_therapists:
            who = escape(former.name) if former.name else _("no name")
            ended = _admin_date(former.ended_at.astimezone(ZoneInfo(g.group.zone)).date())
            lines.append(
                _(
                    "Therapist {who} (id <code>{telegram_user_id}</code>) left on {ended}: "
                    "no longer under [therapists] in the configuration, so no more alerts."
                ).format(who=who, telegram_user_id=former.telegram_user_id, ended=ended)
            )
    return "\n".join(lines)


def admin_patients(result: PatientList) -> str:
    group = result.group
    if not result.patients:
        return _("<b>{name}</b> has no patients yet. Invite some with /invite {name}").format(
            name=escape(group.name)
        )
    lines = [
        _("<b>Patients of {name}</b> ({patients})").format(
            name=escape(group.name), patients=len(result.patients)
        )
    ]
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(group.zone)
    for n, p in enumerate(result.patients, 1):
        joined = _admin_date(p.joined_at.astimezone(zone).date())
        if p.data_deleted:
            lines.append(
                _("{n}. <i>data deleted at the patient's request</i> – joined {joined}").format(
                    n=n, joined=joined
                )
            )
            continue
        name = escape(p.name) if p.name else _("<i>no name</i>")
        lines.append(
            _(
                "{n}. {name} (id <code>{telegram_user_id}</code>) – joined {joined} – {open_tasks}"
            ).format(
                n=n,
                name=name,
                telegram_user_id=p.telegram_user_id,
                joined=joined,
                open_tasks=counted("{n} open check-in", "{n} open check-ins", p.open_tasks),
            )
        )
    return "\n".join(lines)


def admin_unknown_patient(ref: str, group_name: str) -> str:
    return _(
        "No patient “{ref}” in {group_name}. Use the Telegram user id or the "
        "exact name shown by /patients {group_name}."
    ).format(ref=escape(ref), group_name=escape(group_name))


def admin_ambiguous_patient(ref: str, ids: list[int]) -> str:
    listing = ", ".join(str(i) for i in ids)
    return _(
        "More than one patient is called “{ref}” (ids {listing}); please use the Telegram user id."
    ).format(ref=escape(ref), listing=listing)


def admin_patient_removed(removed: RemovedPatient) -> str:
    name = escape(removed.name) if removed.name else str(removed.telegram_user_id)
    return ngettext(
        "Removed {name} from {name2}. {n} check-in they still had there was "
        "cancelled; their answers are kept.\n"
        "The invite links and codes they could use no longer let them back "
        "into the group; to take them back, make a new one with /invite "
        "{name2}.",
        "Removed {name} from {name2}. {n} check-ins they still had there were "
        "cancelled; their answers are kept.\n"
        "The invite links and codes they could use no longer let them back "
        "into the group; to take them back, make a new one with /invite "
        "{name2}.",
        removed.cancelled,
    ).format(name=name, name2=escape(removed.group.name), n=removed.cancelled)


# invites


def admin_invite_bad_days(most: int) -> str:
    return _("An invite can be valid for 1 to {most} days.").format(most=most)


def admin_unknown_invite(code: str) -> str:
    return _("There is no invite code “{code}”.").format(code=escape(code))


def admin_invite_created(info: InviteInfo, link: str) -> str:
    expires = (
        _("valid until {expires_at}").format(
            expires_at=_admin_instant(info.expires_at, info.group.zone)
        )
        if info.expires_at
        else _("valid until revoked")
    )
    uses = _("for any number of patients")
    if info.max_uses:
        uses = _("for {max_uses}").format(
            max_uses=counted("{n} patient", "{n} patients", info.max_uses)
        )
    return _(
        "Invite link for <b>{name}</b>, {expires}, {uses}:\n"
        "{link}\n"
        "Send it to your patients; opening it joins them. To stop it: /revoke "
        "{code}"
    ).format(
        name=escape(info.group.name),
        expires=expires,
        uses=uses,
        link=escape(link),
        code=escape(info.code),
    )


def admin_invite_revoked(info: InviteInfo) -> str:
    head = (
        _("The invite code {code} for {name} was withdrawn before; nothing changed.")
        if info.revoked_before
        else _("The invite code {code} for {name} no longer works.")
    ).format(code=escape(info.code), name=escape(info.group.name))
    if info.uses == 0:
        used = _("Nobody joined with it.")
    else:
        used = ngettext(
            "It was used once; that patient stays in the group.",
            "It was used {n} times; those patients stay in the group.",
            info.uses,
        ).format(n=info.uses)
    return f"{head} {used}"


# tasks: parsing problems


def admin_due_in_past(day: date_, at: time_, zone: str) -> str:
    return _(
        "That is in the past ({day}, {at:%H:%M} in {zone}). Please give a time from now on."
    ).format(day=_admin_date(day), at=at, zone=escape(zone))


def admin_never_due() -> str:
    return _("With that date and repetition the task would never be due again.")


def admin_title_missing() -> str:
    return _("Please type a title for the task.")


def admin_title_too_long(length: int, most: int) -> str:
    return _("That title has {length} characters; keep it to {most}.").format(
        length=length, most=most
    )


def admin_description_missing() -> str:
    return _("Please type the question as the patient should read it.")


def admin_description_too_long(length: int, most: int) -> str:
    return _("That question has {length} characters; keep it to {most}.").format(
        length=length, most=most
    )


def admin_bad_link(link: str) -> str:
    return _(
        "“{link}” is not a web address. Send one starting with https:// (such "
        "as a YouTube link), or tap No link."
    ).format(link=escape(link))


def admin_unknown_type(text: str) -> str:
    return _(
        "“{text}” is not a response type; use one of yes_no, scale, number, "
        "choice, text, photo, video."
    ).format(text=escape(text))


def admin_options_hint() -> str:
    return _("Type the options separated by commas, for example: Left, Right, Both the same")


def admin_bad_bounds(text: str) -> str:
    return _(
        "“{text}” is not a range. Type the lowest and highest value with a dash, for example 0-50."
    ).format(text=escape(text))


def admin_bad_max_length(most: int) -> str:
    return _(
        "Type the most characters an answer may have, a whole number from 1 to {most}."
    ).format(most=most)


def admin_unknown_task(task_id: int) -> str:
    return _("There is no task {task_id}. /tasks lists them with their numbers.").format(
        task_id=task_id
    )


def admin_task_deleted(task_id: int, title: str) -> str:
    return _("Task {task_id} “{title}” was deleted; it can't be changed any more.").format(
        task_id=task_id, title=escape(title)
    )


def admin_task_needs_question() -> str:
    return _("A task needs at least one question.")


def admin_too_many_questions(most: int) -> str:
    return _("A task can have at most {most} questions.").format(most=most)


def admin_question_changed_meanwhile(task_id: int, position: int) -> str:
    return _(
        "Question {position} was changed by someone else while you were changing it, so "
        "yours is not saved over theirs. /edittask {task_id} shows it as it is now."
    ).format(task_id=task_id, position=position)


def admin_unknown_question(position: int) -> str:
    return _("The task has no question {position} (any more).").format(position=position)


def admin_last_question() -> str:
    return _(
        "That is the task's only question; a task needs at least one. "
        "Add another question first, or delete the task."
    )


def admin_line_too_short() -> str:
    return _(
        "The one-line form needs at least a group, a title, a due time, a repeat and one question."
    )


# The one-line form's fields, named as its usage text names them.
_LINE_FIELDS = {"title": N_("title"), "when": N_("when"), "repeat": N_("repeat")}


def admin_line_field(name: str, problem: str) -> str:
    if name in _LINE_FIELDS:
        label = _(_LINE_FIELDS[name])
    elif name.startswith("Q") and name[1:].isdigit():
        label = _("question {number}").format(number=name[1:])
    else:
        label = name
    return f"<b>{escape(label)}</b>: {problem}"


def admin_line_question_shape() -> str:
    return _("Write a question as TEXT ; TYPE, for example: Pain today? ; scale")


def admin_line_unknown_extra(extra: str) -> str:
    return _("“{extra}” doesn't fit this question type.").format(extra=escape(extra))


def admin_line_choice_needs_options() -> str:
    return _("A choice question needs its options, for example: ; Left, Right, Both")


# the /newtask dialogue


def admin_no_groups() -> str:
    return _("There are no groups yet. Create one first with /newgroup NAME.")


def admin_ask_group() -> str:
    return _("<b>New task</b> (send /cancel at any time to stop)\nWhich group is it for?")


def admin_ask_group_typed(count: int) -> str:
    return _(
        "<b>New task</b> (send /cancel at any time to stop)\nWhich group is it for? You have "
        "{count} groups, too many for buttons: type the group's name or number "
        "(/groups lists them)."
    ).format(count=count)


def admin_ask_title(group_name: str) -> str:
    return _(
        "Group: <b>{group_name}</b>\nWhat is the task's title? For example: Perform 20 Press-Ups"
    ).format(group_name=escape(group_name))
