"""What patients and therapists read about a group's consent text."""

from __future__ import annotations

from html import escape

__all__ = [
    "consent_agreed",
    "consent_already_off",
    "consent_button_agree",
    "consent_button_cancel",
    "consent_button_decline",
    "consent_button_save",
    "consent_changed_line",
    "consent_chosen",
    "consent_declined",
    "consent_gone",
    "consent_joined_line",
    "consent_left",
    "consent_not_needed",
    "consent_question",
    "consent_report_line",
    "consent_text_empty",
    "consent_text_too_long",
    "consent_unchanged",
    "setconsent_ask_text",
    "setconsent_cancelled",
    "setconsent_menu",
    "setconsent_off_saved",
    "setconsent_review",
    "setconsent_saved",
    "setconsent_usage",
]


# --- the patient --------------------------------------------------------------------------


def consent_question(group: str, version: int, text: str, *, joining: bool) -> str:
    if joining:
        intro = f"📝 Before you join <b>{escape(group)}</b>, please read this and agree to it:"
        after = (
            "Press “I agree” to join, or “No, thanks” to leave it; you are not in the group "
            "until you agree."
        )
    else:
        intro = (
            f"📝 The consent text of <b>{escape(group)}</b> has changed (version {version}). "
            "Please read it and agree to it again:"
        )
        after = (
            "Check-ins of this group wait until you press “I agree”. “No, thanks” takes you "
            "out of the group."
        )
    return f"{intro}\n\n{escape(text)}\n\n{after}"


def consent_button_agree() -> str:
    return "I agree"


def consent_button_decline() -> str:
    return "No, thanks"


def consent_chosen(agree: bool) -> str:
    return f"→ {consent_button_agree() if agree else consent_button_decline()}"


def consent_joined_line(version: int) -> str:
    return f"Thank you: your consent (version {version}) is recorded."


def consent_agreed(group: str, version: int) -> str:
    return (
        f"✅ Thank you: your consent to version {version} is recorded. Check-ins of "
        f"<b>{escape(group)}</b> go on as before."
    )


def consent_declined(group: str) -> str:
    return (
        f"You have not joined <b>{escape(group)}</b>, and nothing about you was stored. "
        "If you change your mind, open the invite link again."
    )


def consent_left(group: str, cancelled: int) -> str:
    ended = f" {cancelled} open check-in(s) of it ended." if cancelled else ""
    return (
        f"You have left <b>{escape(group)}</b>: no more check-ins from it.{ended} Your earlier "
        "answers stay with your therapist (/deletemydata erases them). To come back, open an "
        "invite link of the group again."
    )


def consent_changed_line() -> str:
    return "⚠️ This text changed after that message was sent; nothing was agreed. Here it is now."


def consent_not_needed(group: str) -> str:
    return f"<b>{escape(group)}</b> no longer asks for consent: there is nothing to agree to."


def consent_gone() -> str:
    return "This button no longer works. To join a group, open its invite link again."


# --- the therapist ------------------------------------------------------------------------


def setconsent_menu() -> str:
    return "Consent text of a group: /setconsent GROUP [off]"


def setconsent_usage() -> str:
    return (
        "Usage: /setconsent GROUP, then send the consent text; patients must agree to it "
        "before they join, and members again whenever it changes.\n"
        "/setconsent GROUP off: the group asks for no consent any more."
    )


def setconsent_ask_text(group: str, version: int) -> str:
    return (
        f"Send the consent text for <b>{escape(group)}</b> as one message (it becomes version "
        f"{version}). I will show it back before saving. /cancel stops."
    )


def setconsent_review(group: str, version: int, text: str) -> str:
    members = (
        "\n\nMembers will be asked to agree again at their next check-in, and get no check-in "
        "of this group until they do."
        if version > 1
        else ""
    )
    return (
        f"Consent text for <b>{escape(group)}</b>, version {version}:\n\n{escape(text)}"
        f"{members}\n\nSave it?"
    )


def consent_button_save() -> str:
    return "Save"


def consent_button_cancel() -> str:
    return "Cancel"


def setconsent_saved(group: str, version: int) -> str:
    return f"✅ Saved: <b>{escape(group)}</b> asks for consent, version {version}."


def setconsent_off_saved(group: str, version: int) -> str:
    return (
        f"✅ <b>{escape(group)}</b> asks for no consent any more (version {version}); "
        "members who had not agreed get its check-ins again."
    )


def setconsent_cancelled() -> str:
    return "Cancelled: the consent text was not changed."


def consent_report_line(agreed: int | None, current: int) -> str:
    if agreed == current:
        return f"consent: version {current} (current)"
    if agreed is None:
        return f"consent: not given (version {current} in force)"
    return f"consent: version {agreed}, not yet version {current}"


# --- what a service said ------------------------------------------------------------------


def consent_already_off(group: str) -> str:
    return f"<b>{escape(group)}</b> asks for no consent; there is nothing to switch off."


def consent_text_empty() -> str:
    return "The consent text is empty; please send the text patients should agree to."


def consent_text_too_long(most: int, length: int) -> str:
    return (
        f"The consent text has {length} characters; at most {most} fit in one message with "
        "its buttons. Please shorten it, or link to the full text."
    )


def consent_unchanged(group: str, version: int) -> str:
    return (
        f"That is already the consent text of <b>{escape(group)}</b> (version {version}); "
        "nothing changed."
    )
