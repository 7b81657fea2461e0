"""What a therapist reads around the admin commands: menus, help, usage, groups, invites,
patients, therapists, and the refusals of the one-line task form.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.texts.schedule import describe_rule

if TYPE_CHECKING:
    from collections.abc import Sequence
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

_ADMIN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ADMIN_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

_ADMIN_TYPE_LABELS = {
    "yes_no": "Yes / No",
    "scale": "Scale",
    "number": "Number",
    "choice": "Choice",
    "text": "Text",
    "photo": "Photo",
    "video": "Video",
}


def _admin_date(day: date_) -> str:
    return f"{_ADMIN_DAYS[day.weekday()]} {day.day} {_ADMIN_MONTHS[day.month - 1]} {day.year}"


def _admin_moment(local: datetime) -> str:
    """A local date and time such as "Tue 1 Dec 2026, 10:00" (locale-independent)."""
    return f"{_admin_date(local.date())}, {local:%H:%M}"


def _admin_instant(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "never again (the series is over)"
    from zoneinfo import ZoneInfo

    return f"{_admin_moment(moment.astimezone(ZoneInfo(zone)))} ({escape(zone)})"


def _admin_num(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _admin_plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def _admin_rule(rule: str | None) -> str:
    return escape(describe_rule(rule))


def admin_refused() -> str:
    return "This command is for therapists."


def admin_stale_button() -> str:
    return "This button is no longer active."


def admin_wrong_step() -> str:
    return (
        "I can't use that here. Please answer the last question above, "
        "or send /cancel to stop without saving."
    )


def admin_picked(label: str) -> str:
    return f"→ <b>{escape(label)}</b>"


def admin_cancelled() -> str:
    return "Cancelled. Nothing was saved."


def admin_not_saved() -> str:
    return "Nothing was saved."


def admin_dialogue_expired() -> str:
    return (
        "Your unfinished task was left for too long and has been dropped; nothing was saved. "
        "Start again with /newtask or /edittask."
    )


# command menus (descriptions shown by Telegram next to each command)


def admin_menu_start() -> str:
    return "Join your group with your therapist's code"


def admin_menu_tasks() -> str:
    return "Your open check-ins"


def admin_menu_tasks_therapist() -> str:
    return "Tasks of a group (or all): /tasks [GROUP]"


def admin_menu_pause() -> str:
    return "Stop for now; continue later with /tasks"


def admin_menu_timezone() -> str:
    return "Show or set your time zone"


def admin_menu_stop() -> str:
    return "Stop receiving check-ins"


def admin_menu_deletemydata() -> str:
    return "Erase your answers and leave your groups"


def admin_menu_help() -> str:
    return "What you can do"


def admin_menu_newtask() -> str:
    return "Create a task step by step"


def admin_menu_addtask() -> str:
    return "Create a task in one message"


def admin_menu_task() -> str:
    return "A task's details: /task ID"


def admin_menu_edittask() -> str:
    return "Change a task: /edittask ID"


def admin_menu_deletetask() -> str:
    return "Delete a task: /deletetask ID"


def admin_menu_preview() -> str:
    return "See a task as a patient does: /preview ID"


def admin_menu_report() -> str:
    return "Adherence: /report GROUP or /report #TASK"


def admin_menu_export() -> str:
    return "All answers as CSV, or FHIR: /export [GROUP] [fhir]"


def admin_menu_groups() -> str:
    return "Your groups"


def admin_menu_newgroup() -> str:
    return "Create a group: /newgroup NAME"


def admin_menu_patients() -> str:
    return "A group's patients: /patients GROUP"


def admin_menu_removepatient() -> str:
    return "Remove a patient: /removepatient GROUP PATIENT"


def admin_menu_invite() -> str:
    return "Invite link: /invite GROUP [DAYS] [USES]"


def admin_menu_revoke() -> str:
    return "Stop an invite code: /revoke CODE"


def admin_menu_addtherapist() -> str:
    return "Add a therapist: /addtherapist USER_ID"


def admin_menu_removetherapist() -> str:
    return "Remove a therapist: /removetherapist USER_ID"


def admin_menu_cancel() -> str:
    return "Leave /newtask or /edittask without saving"


def admin_line_format() -> str:
    return (
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
    return f"Write the task in one message:\n{admin_line_format()}"


# help


def admin_help() -> str:
    return (
        "<b>Therapist commands</b>\n"
        "<b>Groups</b>\n"
        "/groups – your groups with members and check-ins\n"
        "/newgroup NAME [ZONE] – create a group (ZONE such as Europe/London)\n"
        "/patients GROUP – a group's patients\n"
        "/removepatient GROUP PATIENT – remove a patient (telegram id or exact name); "
        "their answers stay\n"
        "/invite GROUP [DAYS] [USES] – an invite link (USES 0 = unlimited)\n"
        "/revoke CODE – stop an invite code\n"
        "/setconsent GROUP – a consent text patients agree to before joining (shown back "
        "before saving); /setconsent GROUP off – ask for none\n"
        "<b>Tasks</b>\n"
        "/newtask – create a task step by step; /cancel leaves without saving\n"
        "/addtask – create a task in one message:\n"
        f"{admin_line_format()}\n"
        "/tasks [GROUP] – tasks with their next due time\n"
        "/task ID – details, questions and completion\n"
        "/edittask ID – change the due time or repetition, add or remove a question\n"
        "/deletetask ID – delete a task (asks first); answers stay\n"
        "/preview ID – see a task as a patient does\n"
        "<b>Reports</b>\n"
        "/report GROUP or /report #ID – adherence per patient\n"
        "/patient NAME – one patient's page: groups, adherence, every answer, their photos "
        "and videos (NAME: a name, a part of one, or a Telegram id)\n"
        "/media GROUP [DAYS] – the group's photo and video answers of the last DAYS (7)\n"
        "/chart GROUP or /chart PATIENT [QUESTION] – adherence and answers as a chart\n"
        "/export [GROUP] – all answers as a CSV file; /export [GROUP] fhir – as FHIR R4B\n"
        "<b>Therapists</b>\n"
        "/addtherapist USER_ID, /removetherapist USER_ID (administrators)\n"
        "/team GROUP, /addtoteam GROUP USER_ID, /removefromteam GROUP USER_ID – a group's care "
        "team: its therapists see it and get its alerts (administrators)\n"
        "/audit [GROUP] [DAYS] – who changed what, newest first\n"
        "GROUP is a group's name or its number from /groups."
    )


# usage lines


def admin_usage_addtherapist() -> str:
    return (
        "Usage: /addtherapist USER_ID – the person's numeric Telegram user id "
        "(they can see it with @userinfobot)."
    )


def admin_usage_removetherapist() -> str:
    return "Usage: /removetherapist USER_ID"


def admin_usage_newgroup() -> str:
    return "Usage: /newgroup NAME [ZONE], for example /newgroup Shoulder Therapy 2 Europe/London"


def admin_usage_patients() -> str:
    return "Usage: /patients GROUP (the group's name or number, see /groups)"


def admin_usage_removepatient() -> str:
    return (
        "Usage: /removepatient GROUP PATIENT, where PATIENT is the Telegram user id or the "
        "exact name shown by /patients GROUP."
    )


def admin_usage_invite() -> str:
    return (
        "Usage: /invite GROUP [DAYS] [USES], for example /invite Shoulder Therapy 1 7 10 "
        "(valid 7 days, 10 uses; 0 uses means unlimited)."
    )


def admin_usage_revoke() -> str:
    return "Usage: /revoke CODE (the code after start= in the invite link)"


def admin_usage_task() -> str:
    return "Usage: /task ID, for example /task 3 (see /tasks for the numbers)"


def admin_usage_edittask() -> str:
    return "Usage: /edittask ID, for example /edittask 3 (see /tasks for the numbers)"


def admin_usage_deletetask() -> str:
    return "Usage: /deletetask ID, for example /deletetask 3 (see /tasks for the numbers)"


def admin_usage_preview() -> str:
    return "Usage: /preview ID, for example /preview 3 (see /tasks for the numbers)"


def admin_usage_report() -> str:
    return (
        "Usage: /report GROUP for a group (its name or number), "
        "or /report #ID (also /report task ID) for one task."
    )


# therapists


def admin_bad_user_id(text: str) -> str:
    return f"“{escape(text)}” is not a Telegram user id; it is a positive number."


def admin_already_therapist(user_id: int) -> str:
    return f"{user_id} is already a therapist."


def admin_therapist_added(user_id: int, menu_set: bool) -> str:
    menu = (
        "Their command menu now shows the therapist commands."
        if menu_set
        else "Once they open a chat with the bot, /help lists the therapist commands."
    )
    return f"{user_id} is now a therapist. {menu}"


def admin_therapist_in_config(user_id: int) -> str:
    return (
        f"{user_id} is a therapist by the bot's configuration file, so a command cannot remove "
        "them; ask whoever runs the bot to take them off [therapists] user_ids."
    )


def admin_not_a_therapist(user_id: int) -> str:
    return f"{user_id} is not a therapist added with /addtherapist; nothing changed."


def admin_therapist_removed(user_id: int) -> str:
    return (
        f"{user_id} is no longer a therapist: the admin commands are gone from their menu and "
        "they no longer get alerts."
    )


# groups


def admin_unknown_group(ref: str, names: list[str]) -> str:
    if not names:
        return (
            f"There is no group “{escape(ref)}”; there are no groups yet. "
            "Create one with /newgroup NAME."
        )
    listing = ", ".join(escape(n) for n in names)
    return f"There is no group “{escape(ref)}”. Groups: {listing}."


def admin_group_name_missing() -> str:
    return "Please give the group a name, for example /newgroup Shoulder Therapy 2"


def admin_group_name_too_long(most: int) -> str:
    return f"That name is too long; keep it to {most} characters."


def admin_group_name_reserved(name: str) -> str:
    return (
        f"“{escape(name)}” can't be a group name: a name must not be only a number, start "
        "with # or look like “task 3”, and must not contain |."
    )


def admin_group_exists(name: str) -> str:
    return f"There is already a group called “{escape(name)}”."


def admin_group_gone() -> str:
    return "That group no longer exists."


def admin_group_created(name: str, group_id: int, zone: str) -> str:
    return (
        f"Created the group <b>{escape(name)}</b> (number {group_id}, due times in "
        f"{escape(zone)}). You are its therapist and get its alerts.\n"
        f"Next: /invite {escape(name)} for a link patients can join with, "
        "and /newtask to give the group a task."
    )


def admin_groups(groups: Sequence[GroupSummary]) -> str:
    if not groups:
        return "There are no groups yet. Create one with /newgroup NAME."
    lines = ["<b>Groups</b>"]
    for g in groups:
        lines.append("")
        name, zone = escape(g.group.name), escape(g.group.zone)
        lines.append(f"<b>{name}</b> (number {g.group.id}, {zone})")
        lines.append(
            f"{_admin_plural(g.patients, 'patient')} · {_admin_plural(g.therapists, 'therapist')}"
            f" · {_admin_plural(g.tasks, 'task')}"
        )
        lines.append(f"Check-ins: {g.open} open · {g.completed} completed · {g.upcoming} upcoming")
        for code in g.demo_codes:
            lines.append(
                f"⚠️ Demo invite code <code>{escape(code)}</code> still lets anyone who guesses "
                f"it join: /revoke {escape(code)} when the demo is over."
            )
        for former in g.former_therapists:
            who = escape(former.name) if former.name else "no name"
            ended = _admin_date(former.ended_at.astimezone(ZoneInfo(g.group.zone)).date())
            lines.append(
                f"Therapist {who} (id <code>{former.telegram_user_id}</code>) left on {ended}: "
                "no longer under [therapists] in the configuration, so no more alerts."
            )
    return "\n".join(lines)


def admin_patients(result: PatientList) -> str:
    group = result.group
    if not result.patients:
        return (
            f"<b>{escape(group.name)}</b> has no patients yet. "
            f"Invite some with /invite {escape(group.name)}"
        )
    lines = [f"<b>Patients of {escape(group.name)}</b> ({len(result.patients)})"]
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(group.zone)
    for n, p in enumerate(result.patients, 1):
        joined = _admin_date(p.joined_at.astimezone(zone).date())
        if p.data_deleted:
            lines.append(f"{n}. <i>data deleted at the patient's request</i> – joined {joined}")
            continue
        name = escape(p.name) if p.name else "<i>no name</i>"
        lines.append(
            f"{n}. {name} (id <code>{p.telegram_user_id}</code>) – joined {joined} – "
            f"{_admin_plural(p.open_tasks, 'open check-in')}"
        )
    return "\n".join(lines)


def admin_unknown_patient(ref: str, group_name: str) -> str:
    return (
        f"No patient “{escape(ref)}” in {escape(group_name)}. Use the Telegram user id or the "
        f"exact name shown by /patients {escape(group_name)}."
    )


def admin_ambiguous_patient(ref: str, ids: list[int]) -> str:
    listing = ", ".join(str(i) for i in ids)
    return (
        f"More than one patient is called “{escape(ref)}” (ids {listing}); "
        "please use the Telegram user id."
    )


def admin_patient_removed(removed: RemovedPatient) -> str:
    name = escape(removed.name) if removed.name else str(removed.telegram_user_id)
    return (
        f"Removed {name} from {escape(removed.group.name)}. "
        f"{_admin_plural(removed.cancelled, 'check-in')} they still had there "
        f"{'was' if removed.cancelled == 1 else 'were'} cancelled; their answers are kept.\n"
        "The invite links and codes they could use no longer let them back into the group; "
        f"to take them back, make a new one with /invite {escape(removed.group.name)}."
    )


# invites


def admin_invite_bad_days(most: int) -> str:
    return f"An invite can be valid for 1 to {most} days."


def admin_unknown_invite(code: str) -> str:
    return f"There is no invite code “{escape(code)}”."


def admin_invite_created(info: InviteInfo, link: str) -> str:
    expires = (
        f"valid until {_admin_instant(info.expires_at, info.group.zone)}"
        if info.expires_at
        else "valid until revoked"
    )
    uses = "for any number of patients"
    if info.max_uses:
        uses = f"for {_admin_plural(info.max_uses, 'patient')}"
    return (
        f"Invite link for <b>{escape(info.group.name)}</b>, {expires}, {uses}:\n"
        f"{escape(link)}\n"
        f"Send it to your patients; opening it joins them. To stop it: "
        f"/revoke {escape(info.code)}"
    )


def admin_invite_revoked(info: InviteInfo) -> str:
    return (
        f"The invite code {escape(info.code)} for {escape(info.group.name)} no longer works. "
        f"It was used {_admin_plural(info.uses, 'time')}; those patients stay in the group."
    )


# tasks: parsing problems


def admin_due_in_past(day: date_, at: time_, zone: str) -> str:
    return (
        f"That is in the past ({_admin_date(day)}, {at:%H:%M} in {escape(zone)}). "
        "Please give a time from now on."
    )


def admin_never_due() -> str:
    return "With that date and repetition the task would never be due again."


def admin_title_missing() -> str:
    return "Please type a title for the task."


def admin_title_too_long(length: int, most: int) -> str:
    return f"That title has {length} characters; keep it to {most}."


def admin_description_missing() -> str:
    return "Please type the question as the patient should read it."


def admin_description_too_long(length: int, most: int) -> str:
    return f"That question has {length} characters; keep it to {most}."


def admin_bad_link(link: str) -> str:
    return (
        f"“{escape(link)}” is not a web address. Send one starting with https:// "
        "(such as a YouTube link), or tap No link."
    )


def admin_unknown_type(text: str) -> str:
    return (
        f"“{escape(text)}” is not a response type; use one of yes_no, scale, number, choice, "
        "text, photo, video."
    )


def admin_options_hint() -> str:
    return "Type the options separated by commas, for example: Left, Right, Both the same"


def admin_bad_bounds(text: str) -> str:
    return (
        f"“{escape(text)}” is not a range. Type the lowest and highest value with a dash, "
        "for example 0-50."
    )


def admin_bad_max_length(most: int) -> str:
    return f"Type the most characters an answer may have, a whole number from 1 to {most}."


def admin_unknown_task(task_id: int) -> str:
    return f"There is no task {task_id}. /tasks lists them with their numbers."


def admin_task_deleted(task_id: int, title: str) -> str:
    return f"Task {task_id} “{escape(title)}” was deleted; it can't be changed any more."


def admin_task_needs_question() -> str:
    return "A task needs at least one question."


def admin_too_many_questions(most: int) -> str:
    return f"A task can have at most {most} questions."


def admin_unknown_question(position: int) -> str:
    return f"The task has no question {position} (any more)."


def admin_last_question() -> str:
    return (
        "That is the task's only question; a task needs at least one. "
        "Add another question first, or delete the task."
    )


def admin_line_too_short() -> str:
    return (
        "The one-line form needs at least a group, a title, a due time, a repeat and one question."
    )


def admin_line_field(name: str, problem: str) -> str:
    return f"<b>{escape(name)}</b>: {problem}"


def admin_line_question_shape() -> str:
    return "Write a question as TEXT ; TYPE, for example: Pain today? ; scale"


def admin_line_unknown_extra(extra: str) -> str:
    return f"“{escape(extra)}” doesn't fit this question type."


def admin_line_choice_needs_options() -> str:
    return "A choice question needs its options, for example: ; Left, Right, Both"


# the /newtask dialogue


def admin_no_groups() -> str:
    return "There are no groups yet. Create one first with /newgroup NAME."


def admin_ask_group() -> str:
    return "<b>New task</b> (send /cancel at any time to stop)\nWhich group is it for?"


def admin_ask_title(group_name: str) -> str:
    return (
        f"Group: <b>{escape(group_name)}</b>\nWhat is the task's title? "
        "For example: Perform 20 Press-Ups"
    )
