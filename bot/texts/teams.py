"""Care teams: /team, /addtoteam, /removefromteam, and refusing another team's group."""

from __future__ import annotations

from html import escape

from bot.services.authoring import Team, TeamChange

__all__ = [
    "team_admins_only",
    "team_button_remove",
    "team_empty",
    "team_list",
    "team_member_added",
    "team_member_already",
    "team_member_not_on",
    "team_member_removed",
    "team_menu",
    "team_menu_add",
    "team_menu_remove",
    "team_not_a_therapist",
    "team_not_your_group",
    "team_not_your_task",
    "team_usage",
]


def team_menu() -> str:
    return "A group's therapists: /team GROUP"


def team_menu_add() -> str:
    return "Put a therapist on a group's team: /addtoteam GROUP USER_ID"


def team_menu_remove() -> str:
    return "Take a therapist off a group's team: /removefromteam GROUP USER_ID"


def team_usage() -> str:
    return (
        "Usage: /team GROUP, /addtoteam GROUP USER_ID or /removefromteam GROUP USER_ID – "
        "USER_ID is the therapist's numeric Telegram user id."
    )


def team_admins_only() -> str:
    return "Only an administrator (listed under [therapists] in the configuration) manages teams."


def team_not_a_therapist(user_id: int) -> str:
    return f"{user_id} is not a therapist. Add them with /addtherapist {user_id} first."


def team_not_your_group(ref: str, names: list[str]) -> str:
    if not names:
        return (
            f"That group is not one of yours: “{escape(ref)}”. You are on no group's team yet; "
            "an administrator can add you with /addtoteam."
        )
    listing = ", ".join(escape(n) for n in names)
    return f"That group is not one of yours: “{escape(ref)}”. Your groups: {listing}."


def team_not_your_task(task_id: int) -> str:
    return f"Task {task_id} is not a task of your groups. /tasks lists yours with their numbers."


def _who(change: TeamChange) -> str:
    name = escape(change.name)
    return f"{name} ({change.telegram_user_id})" if name else str(change.telegram_user_id)


def team_member_added(change: TeamChange) -> str:
    return (
        f"{_who(change)} is now on the team of {escape(change.group.name)}: they see its "
        "patients, tasks and reports and get its alerts and digests."
    )


def team_member_already(change: TeamChange) -> str:
    group = escape(change.group.name)
    return f"{_who(change)} is already on the team of {group}; nothing changed."


def team_member_removed(change: TeamChange) -> str:
    return (
        f"{_who(change)} is no longer on the team of {escape(change.group.name)}: they no longer "
        "see it or get its alerts."
    )


def team_member_not_on(change: TeamChange) -> str:
    return f"{_who(change)} is not on the team of {escape(change.group.name)}; nothing changed."


def team_empty(team: Team) -> str:
    return (
        f"Nobody is on the team of <b>{escape(team.group.name)}</b>: its alerts go to the "
        f"administrators. Add a therapist with /addtoteam {team.group.id} USER_ID."
    )


def team_list(team: Team) -> str:
    lines = [f"<b>Team of {escape(team.group.name)}</b>"]
    for member in team.members:
        name = escape(member.name) or "(no name yet)"
        admin = ", administrator" if member.administrator else ""
        since = member.added_at.strftime("%Y-%m-%d")
        lines.append(f"• {name} – {member.telegram_user_id}{admin}, since {since}")
    lines.append("Press a name's button to take them off the team.")
    return "\n".join(lines)


def team_button_remove(name: str, telegram_user_id: int) -> str:
    return f"Remove {name or telegram_user_id}"
