"""Care teams: /team, /addtoteam, /removefromteam, and refusing another team's group."""

from __future__ import annotations

from html import escape

from bot.services.authoring import Team, TeamChange
from bot.texts.language import _, listed, quoted

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
    "team_none_yet",
    "team_not_a_therapist",
    "team_not_your_group",
    "team_not_your_task",
    "team_usage",
    "team_user_id_missing",
]


def team_menu() -> str:
    return _("A group's therapists: /team GROUP")


def team_menu_add() -> str:
    return _("Put a therapist on a group's team: /addtoteam GROUP USER_ID")


def team_menu_remove() -> str:
    return _("Take a therapist off a group's team: /removefromteam GROUP USER_ID")


def team_usage() -> str:
    return _(
        "Usage: /team GROUP, /addtoteam GROUP USER_ID or /removefromteam GROUP USER_ID – "
        "USER_ID is the therapist's numeric Telegram user id."
    )


def team_user_id_missing(group: str, adding: bool) -> str:
    command = "/addtoteam" if adding else "/removefromteam"
    return _(
        "Which therapist? Put their numeric Telegram user id after the group: "
        "<code>{command} {group} USER_ID</code>"
    ).format(command=command, group=escape(group))


def team_admins_only() -> str:
    return _(
        "Only an administrator (listed under [therapists] in the configuration) manages teams."
    )


def team_not_a_therapist(user_id: int) -> str:
    return _("{user_id} is not a therapist. Add them with /addtherapist {user_id} first.").format(
        user_id=user_id
    )


def team_not_your_group(ref: str, names: list[str]) -> str:
    if not names:
        return _(
            "That group is not one of yours: “{ref}”. You are on no group's team yet; "
            "an administrator can add you with /addtoteam."
        ).format(ref=escape(ref))
    return _("That group is not one of yours: “{ref}”. Your groups: {listing}.").format(
        ref=quoted(ref), listing=listed(names, ", ")
    )


def team_none_yet() -> str:
    return _(
        "You are on no group's team yet: an administrator can add you with /addtoteam, or "
        "create a group of your own with /newgroup NAME."
    )


def team_not_your_task(task_id: int) -> str:
    return _(
        "Task {task_id} is not a task of your groups. /tasks lists yours with their numbers."
    ).format(task_id=task_id)


def _who(change: TeamChange) -> str:
    name = escape(change.name)
    return f"{name} ({change.telegram_user_id})" if name else str(change.telegram_user_id)


def team_member_added(change: TeamChange) -> str:
    return _(
        "{who} is now on the team of {group}: they see its patients, tasks and reports and "
        "get its alerts and digests."
    ).format(who=_who(change), group=escape(change.group.name))


def team_member_already(change: TeamChange) -> str:
    return _("{who} is already on the team of {group}; nothing changed.").format(
        who=_who(change), group=escape(change.group.name)
    )


def team_member_removed(change: TeamChange) -> str:
    return _(
        "{who} is no longer on the team of {group}: they no longer see it or get its alerts."
    ).format(who=_who(change), group=escape(change.group.name))


def team_member_not_on(change: TeamChange) -> str:
    return _("{who} is not on the team of {group}; nothing changed.").format(
        who=_who(change), group=escape(change.group.name)
    )


def team_empty(team: Team) -> str:
    return _(
        "Nobody is on the team of <b>{group}</b>: its alerts go to the administrators. "
        "Add a therapist with /addtoteam {group_id} USER_ID."
    ).format(group=escape(team.group.name), group_id=team.group.id)


def team_list(team: Team, *, with_buttons: bool = True) -> str:
    """``with_buttons`` False: a team too large for a button each (or for one message)."""
    lines = [_("<b>Team of {group}</b>").format(group=escape(team.group.name))]
    for member in team.members:
        name = escape(member.name) or _("(no name yet)")
        since = member.added_at.strftime("%Y-%m-%d")
        if member.administrator:
            line = _("• {name} – {user_id}, administrator, since {since}")
        else:
            line = _("• {name} – {user_id}, since {since}")
        lines.append(line.format(name=name, user_id=member.telegram_user_id, since=since))
    if with_buttons:
        lines.append(_("Press a name's button to take them off the team."))
    else:
        lines.append(
            _("To take someone off the team: /removefromteam {group_id} USER_ID").format(
                group_id=team.group.id
            )
        )
    return "\n".join(lines)


def team_button_remove(name: str, telegram_user_id: int) -> str:
    return _("Remove {who}").format(who=name or telegram_user_id)
