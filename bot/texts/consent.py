"""What patients and therapists read about a group's consent text."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.texts.language import LANGUAGES, _, content, ngettext

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
        intro = _("📝 Before you join <b>{group}</b>, please read this and agree to it:").format(
            group=escape(group)
        )
        after = _(
            "Press “I agree” to join, or “No, thanks” to leave it; you are not in the group "
            "until you agree."
        )
    else:
        intro = _(
            "📝 The consent text of <b>{group}</b> has changed (version {version}). "
            "Please read it and agree to it again:"
        ).format(group=escape(group), version=version)
        after = _(
            "Check-ins of this group wait until you press “I agree”. “No, thanks” takes you "
            "out of the group."
        )
    return f"{intro}\n\n{escape(content(text))}\n\n{after}"


def consent_button_agree() -> str:
    return _("I agree")


def consent_button_decline() -> str:
    return _("No, thanks")


def consent_chosen(agree: bool) -> str:
    return f"→ {consent_button_agree() if agree else consent_button_decline()}"


def consent_joined_line(version: int) -> str:
    return _("Thank you: your consent (version {version}) is recorded.").format(version=version)


def consent_agreed(group: str, version: int) -> str:
    return _(
        "✅ Thank you: your consent to version {version} is recorded. Check-ins of "
        "<b>{group}</b> go on as before."
    ).format(version=version, group=escape(group))


def consent_declined(group: str) -> str:
    return _(
        "You have not joined <b>{group}</b>, and nothing about you was stored. "
        "If you change your mind, open the invite link again."
    ).format(group=escape(group))


def consent_left(group: str, cancelled: int) -> str:
    ended = (
        " "
        + ngettext(
            "{n} open check-in of it ended.", "{n} open check-ins of it ended.", cancelled
        ).format(n=cancelled)
        if cancelled
        else ""
    )
    return _(
        "You have left <b>{group}</b>: no more check-ins from it.{ended} Your earlier "
        "answers stay with your therapist (/deletemydata erases them). To come back, open an "
        "invite link of the group again."
    ).format(group=escape(group), ended=ended)


def consent_changed_line() -> str:
    return _(
        "⚠️ This text changed after that message was sent; nothing was agreed. Here it is now."
    )


def consent_not_needed(group: str) -> str:
    return _("<b>{group}</b> no longer asks for consent: there is nothing to agree to.").format(
        group=escape(group)
    )


def consent_gone() -> str:
    return _("This button no longer works. To join a group, open its invite link again.")


# --- the therapist ------------------------------------------------------------------------


def setconsent_menu() -> str:
    return _("Consent text of a group: /setconsent GROUP [off]")


def setconsent_usage() -> str:
    return _(
        "Usage: /setconsent GROUP, then send the consent text; patients must agree to it "
        "before they join, and members again whenever it changes.\n"
        "/setconsent GROUP off: the group asks for no consent any more."
    )


def setconsent_ask_text(group: str, version: int) -> str:
    return _(
        "Send the consent text for <b>{group}</b> as one message (it becomes version "
        "{version}). I will show it back before saving. /cancel stops."
    ).format(group=escape(group), version=version)


def setconsent_review(
    group: str, version: int, text: str, untranslated: Sequence[str] = ()
) -> str:
    head = _("Consent text for <b>{group}</b>, version {version}:").format(
        group=escape(group), version=version
    )
    parts = [head, escape(text)]
    if untranslated:
        parts.append(
            _(
                "The text in force has a version in {languages}; this one will not. Patients "
                "reading those will be asked to agree to it as you wrote it, until a seed file "
                "gives its translations (consent_de, consent_es)."
            ).format(languages=", ".join(LANGUAGES.get(code, code) for code in untranslated))
        )
    if version > 1:
        parts.append(
            _(
                "Members will be asked to agree again at their next check-in, and get no "
                "check-in of this group until they do."
            )
        )
    parts.append(_("Save it?"))
    return "\n\n".join(parts)


def consent_button_save() -> str:
    return _("Save")


def consent_button_cancel() -> str:
    return _("Cancel")


def setconsent_saved(group: str, version: int) -> str:
    return _("✅ Saved: <b>{group}</b> asks for consent, version {version}.").format(
        group=escape(group), version=version
    )


def setconsent_off_saved(group: str, version: int) -> str:
    return _(
        "✅ <b>{group}</b> asks for no consent any more (version {version}); "
        "members who had not agreed get its check-ins again."
    ).format(group=escape(group), version=version)


def setconsent_cancelled() -> str:
    return _("Cancelled: the consent text was not changed.")


def consent_report_line(agreed: int | None, current: int) -> str:
    if agreed == current:
        return _("consent: version {current} (current)").format(current=current)
    if agreed is None:
        return _("consent: not given (version {current} in force)").format(current=current)
    return _("consent: version {agreed}, not yet version {current}").format(
        agreed=agreed, current=current
    )


# --- what a service said ------------------------------------------------------------------


def consent_already_off(group: str) -> str:
    return _("<b>{group}</b> asks for no consent; there is nothing to switch off.").format(
        group=escape(group)
    )


def consent_text_empty() -> str:
    return _("The consent text is empty; please send the text patients should agree to.")


def consent_text_too_long(most: int, length: int) -> str:
    return _(
        "The consent text has {length} characters; at most {most} fit in one message with "
        "its buttons. Please shorten it, or link to the full text."
    ).format(length=length, most=most)


def consent_unchanged(group: str, version: int) -> str:
    return _(
        "That is already the consent text of <b>{group}</b> (version {version}); nothing changed."
    ).format(group=escape(group), version=version)
