"""What patients and therapists read about a group's consent text."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from bot.texts.language import LANGUAGES, _, content, ngettext

if TYPE_CHECKING:
    from bot.services.consent import TranslationDraft

__all__ = [
    "consent_agreed",
    "consent_already_off",
    "consent_answered_already",
    "consent_button_agree",
    "consent_button_cancel",
    "consent_button_decline",
    "consent_button_save",
    "consent_changed_line",
    "consent_changed_meanwhile",
    "consent_chosen",
    "consent_declined",
    "consent_declined_member",
    "consent_gone",
    "consent_joined_line",
    "consent_left",
    "consent_not_needed",
    "consent_nothing_to_translate",
    "consent_question",
    "consent_report_line",
    "consent_saved_meanwhile",
    "consent_text_empty",
    "consent_text_too_long",
    "consent_translation_unchanged",
    "consent_unchanged",
    "consent_unknown_language",
    "setconsent_ask_text",
    "setconsent_ask_translation",
    "setconsent_cancelled",
    "setconsent_menu",
    "setconsent_off_saved",
    "setconsent_review",
    "setconsent_saved",
    "setconsent_translation_review",
    "setconsent_translation_saved",
    "setconsent_usage",
]


# --- the patient --------------------------------------------------------------------------


def consent_question(group: str, version: int, text: str, *, joining: bool, again: bool) -> str:
    """``again``: the member agreed to an earlier version; otherwise they never agreed to any
    (the group asked for none when they joined), and nothing "changed" for them."""
    if joining:
        intro = _("📝 Before you join <b>{group}</b>, please read this and agree to it:").format(
            group=escape(group)
        )
        after = _(
            "Press “I agree” to join, or “No, thanks” to leave it; you are not in the group "
            "until you agree."
        )
    else:
        if again:
            intro = _(
                "📝 The consent text of <b>{group}</b> has changed (version {version}). "
                "Please read it and agree to it again:"
            ).format(group=escape(group), version=version)
        else:
            intro = _(
                "📝 <b>{group}</b> now asks for your consent (version {version}). "
                "Please read this and agree to it:"
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
        "<b>{group}</b> come as planned; any that waited for your consent come in a moment."
    ).format(version=version, group=escape(group))


def consent_declined(group: str) -> str:
    return _(
        "You have not joined <b>{group}</b>, and nothing about you was stored. "
        "If you change your mind, open the invite link again."
    ).format(group=escape(group))


def consent_declined_member(group: str) -> str:
    return _(
        "You have not joined <b>{group}</b>. If you change your mind, open the invite link again."
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


def consent_answered_already() -> str:
    return _("You answered this already. /tasks shows your check-ins.")


# --- the therapist ------------------------------------------------------------------------


def _language(code: str) -> str:
    return LANGUAGES.get(code, code)


def _codes() -> str:
    """The languages a consent text can be given in, as typed after the group."""
    return ", ".join(LANGUAGES)


def setconsent_menu() -> str:
    return _("Consent text of a group: /setconsent GROUP [LANGUAGE | off]")


def setconsent_usage() -> str:
    return _(
        "Usage: /setconsent GROUP, then send the consent text; patients must agree to it "
        "before they join, and members again whenever it changes.\n"
        "/setconsent GROUP LANGUAGE ({languages}), then send the same text in that language: "
        "patients who read it agree to it in their own language. A new text from "
        "/setconsent GROUP drops the translations of the old one.\n"
        "/setconsent GROUP off: the group asks for no consent any more."
    ).format(languages=_codes())


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
                "The text in force has a version in {languages}; this one will not (those "
                "translate the old text). Patients reading them will be asked to agree to it "
                "as you wrote it, until you give its translations: /setconsent {group} "
                "LANGUAGE after saving."
            ).format(
                languages=", ".join(_language(code) for code in untranslated),
                group=escape(group),
            )
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


def setconsent_ask_translation(
    group: str, language: str, version: int, next_version: int, text: str, translation: str
) -> str:
    parts = [
        _(
            "Send the consent text of <b>{group}</b> in {language} as one message, "
            "translating the text below (version {version}, as written). It will be version "
            "{next_version}, with the text as written and the other translations kept. I will "
            "show it back before saving. /cancel stops."
        ).format(
            group=escape(group),
            language=_language(language),
            version=version,
            next_version=next_version,
        ),
        escape(text),
    ]
    if translation:
        parts.append(
            _("Its {language} text now:").format(language=_language(language))
            + "\n"
            + escape(translation)
        )
    return "\n\n".join(parts)


def setconsent_translation_review(draft: TranslationDraft) -> str:
    """The whole version to be saved: the text as written and every translation, each marked
    as new, changed or unchanged."""
    parts = [
        _("Consent text for <b>{group}</b>, version {version}:").format(
            group=escape(draft.group_name), version=draft.next_version
        ),
        _("<b>As written</b> (unchanged):") + "\n" + escape(draft.text),
    ]
    for code, text in draft.translations:
        name = escape(_language(code))
        if code != draft.language:
            label = _("<b>{language}</b> (unchanged):").format(language=name)
        elif draft.replaces:
            label = _("<b>{language}</b> (changed):").format(language=name)
        else:
            label = _("<b>{language}</b> (new):").format(language=name)
        parts.append(f"{label}\n{escape(text)}")
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


def setconsent_translation_saved(group: str, version: int, language: str) -> str:
    return _(
        "✅ Saved: <b>{group}</b> asks for consent, version {version}, with its text in "
        "{language}."
    ).format(group=escape(group), version=version, language=_language(language))


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


def consent_unknown_language(code: str, group: str, available: list[str]) -> str:
    return _(
        "“{code}” is not a language the bot speaks. A consent text can be given in "
        "{languages}: /setconsent {group} LANGUAGE."
    ).format(
        code=escape(code),
        languages=", ".join(f"{c} ({_language(c)})" for c in available),
        group=escape(group),
    )


def consent_nothing_to_translate(group: str, language: str) -> str:
    return _(
        "<b>{group}</b> asks for no consent, so there is no text to give in {language}. "
        "Set the text first with /setconsent {group}, then its translation with "
        "/setconsent {group} {code}."
    ).format(group=escape(group), language=_language(language), code=language)


def consent_changed_meanwhile(group: str, version: int, language: str) -> str:
    return _(
        "The consent text of <b>{group}</b> has changed since you were shown version "
        "{version}, so this translation may not fit it; nothing was saved. To translate the "
        "text in force: /setconsent {group} {code}."
    ).format(group=escape(group), version=version, code=language)


def consent_saved_meanwhile(group: str, version: int) -> str:
    return _(
        "Someone saved version {version} of the consent text of <b>{group}</b> while you were "
        "writing yours, so yours was not saved and does not replace theirs. /audit {group} "
        "shows who; to write yours over it, send /setconsent {group} again."
    ).format(group=escape(group), version=version)


def consent_translation_unchanged(group: str, version: int, language: str) -> str:
    return _(
        "That is already the {language} consent text of <b>{group}</b> (version {version}); "
        "nothing changed."
    ).format(language=_language(language), group=escape(group), version=version)
