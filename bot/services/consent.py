"""A group's consent text: its versions, who agreed to which, and the therapist's change.

A group asks for consent while its newest ``consent_versions`` row has a text. Every change,
including lifting the requirement, is a new version (1, 2, ...), and an agreement names the
version, so the words a patient agreed to can always be shown again. A patient gets prompts of
such a group only after agreeing to the version in force (``missing`` tells the due scan).

A version is the text as written plus its translations (``{"de": {"text": ...}}``). A
therapist changes one or the other: /setconsent GROUP a new text as written (its translations,
which translated the old words, are dropped), /setconsent GROUP LANG one translation of the
text in force (the text as written and the other translations are kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services.audit import Actor, AuditAction, ObjectKind, record
from bot.services.authoring.access import not_your_group, require_group
from bot.services.authoring.groups import _require_group, _split_group_prefix
from bot.services.authoring.results import AuthoringError
from bot.services.content import TEXT, Localized, Translations, localized
from bot.services.language import AVAILABLE
from bot.services.meaning import Kind, meaning
from storage.db import Database
from storage.models import Consent, ConsentVersion, Delivery, DeliveryStatus, Task, TherapyGroup

# ``Consent.read_in`` of an agreement to the text as written, not to one of its translations.
READ_AS_WRITTEN = ""
# How records people read (/audit, the audit CSV, /mydata) name it.
AS_WRITTEN = "as written"
# A consent text is shown in one message together with the group's name and two buttons;
# Telegram's limit is 4096 characters.
MAX_CONSENT_TEXT = 3500
# The last word of /setconsent GROUP off.
OFF = "off"
# ``Delivery.last_error`` of a check-in that fell due while its patient had not agreed to the
# version in force: held by the due scan (``sent``, without a message) until they agree, when
# it goes back to ``pending`` marked ``RELEASED_BY_CONSENT`` (claimed before: its successor is
# planned already) for the next scan to send, if its window is still open.
HELD_FOR_CONSENT = "awaiting consent"
RELEASED_BY_CONSENT = "consent given"


@frozen
class ConsentText:
    """The consent text in force for a group, as a patient is asked to agree to it."""

    group_id: int
    group_name: str
    version: int
    text: Localized  # with the translations the version has, for the reader's language


@frozen
class ConsentChange:
    """A therapist changed a group's consent: the new version, and whether it asks anything."""

    group_name: str
    version: int
    required: bool


@frozen
class ConsentDraft:
    """What /setconsent is about to save, shown back to the therapist first."""

    group_id: int
    group_name: str
    next_version: int
    text: str
    # Languages the version in force has a translation into: the new one has none, and the
    # patients who read those languages will read it as written until they are given again.
    untranslated: tuple[str, ...] = ()


@frozen
class ConsentTarget:
    """What /setconsent names: a group, and which of its consent's words are to change."""

    group_id: int
    group_name: str
    next_version: int
    off: bool = False
    # /setconsent GROUP LANG: the translation's code; None: the text as written.
    language: str | None = None
    # The version in force (0: none yet), what a save is checked against; for a translation
    # also its text as written (what to translate) and its translation into ``language`` now
    # ("" when it has none).
    version: int = 0
    text: str = ""
    translation: str = ""


@frozen
class TranslationDraft:
    """What /setconsent GROUP LANG is about to save, shown back whole first: the version in
    force with one translation set."""

    group_id: int
    group_name: str
    based_on: int  # the version in force, whose text as written this translates
    next_version: int
    text: str  # as written: unchanged
    language: str
    translation: str
    replaces: bool  # ``language`` had a translation, which this one replaces
    # Every translation of the new version, ``language``'s included, by code.
    translations: tuple[tuple[str, str], ...]


def latest_versions(session: Session, group_ids: Iterable[int]) -> dict[int, ConsentVersion]:
    """The newest version of each of these groups that ever had one."""
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    newest = (
        select(ConsentVersion.group_id, func.max(ConsentVersion.version).label("version"))
        .where(col(ConsentVersion.group_id).in_(ids))
        .group_by(col(ConsentVersion.group_id))
        .subquery()
    )
    rows = session.exec(
        select(ConsentVersion).join(
            newest,
            (col(ConsentVersion.group_id) == newest.c.group_id)
            & (col(ConsentVersion.version) == newest.c.version),
        )
    ).all()
    return {row.group_id: row for row in rows}


def in_force(session: Session, group: TherapyGroup) -> ConsentText | None:
    """The consent this group asks for now, or None when it asks for none."""
    assert group.id is not None
    row = latest_versions(session, [group.id]).get(group.id)
    if row is None or row.text is None:
        return None
    return ConsentText(group.id, group.name, row.version, text_of(row))


def text_of(row: ConsentVersion) -> Localized:
    """A version's text, with its translations for the rendering floor to choose from."""
    return localized(row.text or "", row.translations, TEXT)


def has_agreed(session: Session, group_id: int, person_id: int | None, version: int) -> bool:
    if person_id is None:
        return False
    return (
        session.exec(
            select(Consent.id).where(
                Consent.group_id == group_id,
                Consent.person_id == person_id,
                Consent.version == version,
            )
        ).first()
        is not None
    )


def missing(session: Session, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Of these (group, person) pairs, those whose group asks for a version not agreed to.

    Maps each such pair to the version in force; pairs of groups asking nothing are left out.
    """
    wanted = set(pairs)
    if not wanted:
        return {}
    versions = {
        group_id: row.version
        for group_id, row in latest_versions(session, (g for g, _ in wanted)).items()
        if row.text is not None
    }
    if not versions:
        return {}
    agreed = set(
        session.exec(
            select(Consent.group_id, Consent.person_id, Consent.version).where(
                col(Consent.group_id).in_(sorted(versions)),
                col(Consent.person_id).in_(sorted({p for _, p in wanted})),
            )
        ).all()
    )
    return {
        (group_id, person_id): versions[group_id]
        for group_id, person_id in wanted
        if group_id in versions and (group_id, person_id, versions[group_id]) not in agreed
    }


def agreed_before(session: Session, pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of these (group, person) pairs, those whose person agreed to some version of the
    group's consent: asked again, theirs is a changed text, not a first request."""
    wanted = set(pairs)
    if not wanted:
        return set()
    found = session.exec(
        select(Consent.group_id, Consent.person_id)
        .where(
            col(Consent.group_id).in_(sorted({g for g, _ in wanted})),
            col(Consent.person_id).in_(sorted({p for _, p in wanted})),
        )
        .distinct()
    ).all()
    return {(group_id, person_id) for group_id, person_id in found} & wanted


def release_held(session: Session, now: datetime, group_id: int, person_id: int | None) -> int:
    """Give the check-ins held for consent (``HELD_FOR_CONSENT``) of this group, of one
    person or of all (the group asks for none any more), back to the due scan; how many.

    Their rows are locked first, waiting for a scan that holds them: on PostgreSQL a scan that
    read "not agreed" before this agreement committed may be holding one of them right now,
    and an UPDATE that saw it still pending would leave it held until it expired.
    """
    group_tasks = select(Task.id).where(Task.group_id == group_id).scalar_subquery()
    mine = [col(Delivery.task_id).in_(group_tasks), col(Delivery.due_at) <= now]
    if person_id is not None:
        mine.append(col(Delivery.person_id) == person_id)
    session.exec(
        select(Delivery.id)
        .where(
            *mine,
            col(Delivery.status).in_(
                [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value, _SENT]
            ),
        )
        .with_for_update()
    ).all()
    result = session.exec(
        update(Delivery)
        .where(
            *mine,
            col(Delivery.status) == _SENT,
            col(Delivery.last_error) == HELD_FOR_CONSENT,
            col(Delivery.expires_at) > now,
        )
        .values(status=DeliveryStatus.PENDING.value, sent_at=None, last_error=RELEASED_BY_CONSENT)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


_SENT = DeliveryStatus.SENT.value


def words_read(required: ConsentText, shown_in: str | None) -> str | None:
    """What an agreement records as read (``Consent.read_in``), from what its button says the
    message showed: a translation the version has, ``READ_AS_WRITTEN``, or None (not known: a
    button from before buttons said, or one naming a translation the version lacks)."""
    if shown_in == READ_AS_WRITTEN or (shown_in and shown_in in required.text.translations):
        return shown_in
    return None


def read_in_named(read_in: str | None) -> str | None:
    """``Consent.read_in`` as records people read name it: a language code, "as written", or
    None (not recorded)."""
    return AS_WRITTEN if read_in == READ_AS_WRITTEN else read_in


def record_agreement(
    session: Session,
    now: datetime,
    actor: Actor,
    required: ConsentText,
    person_id: int,
    read_in: str | None,
) -> bool:
    """Store the agreement to ``required`` and its audit event, and give the check-ins held
    for it back to the due scan (``release_held``); False when it was stored already.
    ``read_in``: see ``words_read``."""
    group_id, version = required.group_id, required.version
    if has_agreed(session, group_id, person_id, version):
        return False
    release_held(session, now, group_id, person_id)
    session.add(
        Consent(
            group_id=group_id,
            person_id=person_id,
            version=version,
            agreed_at=now,
            read_in=read_in,
        )
    )
    record(
        session,
        now,
        actor,
        AuditAction.CONSENT_GIVEN,
        ObjectKind.PERSON,
        person_id,
        group_id=group_id,
        after={"version": version}
        if read_in is None
        else {"version": version, "read_in": read_in_named(read_in)},
    )
    return True


# --- the therapist's side ---------------------------------------------------------------------


def check_consent_text(text: str) -> str:
    """The text as it will be stored, or AuthoringError saying what is wrong with it."""
    cleaned = text.strip()
    if not cleaned:
        raise AuthoringError(meaning(Kind.CONSENT_TEXT_EMPTY))
    if len(cleaned) > MAX_CONSENT_TEXT:
        raise AuthoringError(
            meaning(Kind.CONSENT_TEXT_TOO_LONG, most=MAX_CONSENT_TEXT, length=len(cleaned))
        )
    return cleaned


def draft_consent(
    database: Database, group_ref: str, text: str, *, based_on: int, actor: Actor
) -> ConsentDraft:
    """Check a new consent text for a group before it is shown back; nothing is stored.

    ``based_on`` as for ``set_consent``: a version saved since /setconsent began is said now,
    not after a review whose Save could only be refused."""
    cleaned = check_consent_text(text)
    with database.read_session() as session:
        group = _require_group(session, group_ref, actor)
        assert group.id is not None
        latest = _in_force_since(session, group, based_on)
        if latest is not None and latest.text == cleaned:
            raise AuthoringError(
                meaning(Kind.CONSENT_UNCHANGED, group=group.name, version=latest.version)
            )
        next_version = latest.version + 1 if latest is not None else 1
        translated = sorted((latest.translations or {}) if latest is not None else ())
        return ConsentDraft(group.id, group.name, next_version, cleaned, tuple(translated))


def consent_target(database: Database, ref: str, *, actor: Actor) -> ConsentTarget:
    """What "GROUP", "GROUP off" or "GROUP LANG" names, or AuthoringError.

    The group is the longest run of leading words that names one of the actor's, so a name
    may end in a word like "de" or "off" ("Knees off" alone is that group, if there is one).
    """
    with database.read_session() as session:
        split = _split_group_prefix(session, ref, actor, trailing_ok=1)
        if split is None:
            # Quote the group as typed: without a last word that reads as off or a language.
            *words, last = ref.split() or [""]
            named = " ".join(words) if words and _reads_as_aim(last) else ref
            raise not_your_group(session, actor, named)
        group = require_group(session, actor, split[0], split[0].name)
        assert group.id is not None
        aim = split[1].casefold()
        latest = latest_versions(session, [group.id]).get(group.id)
        in_force_version = latest.version if latest is not None else 0
        next_version = in_force_version + 1
        if not aim:
            return ConsentTarget(group.id, group.name, next_version, version=in_force_version)
        if aim == OFF:
            return ConsentTarget(
                group.id, group.name, next_version, off=True, version=in_force_version
            )
        if aim not in AVAILABLE:
            raise AuthoringError(
                meaning(
                    Kind.CONSENT_UNKNOWN_LANGUAGE,
                    code=split[1],
                    group=group.name,
                    available=list(AVAILABLE),
                )
            )
        if latest is None or latest.text is None:
            raise AuthoringError(
                meaning(Kind.CONSENT_NOTHING_TO_TRANSLATE, group=group.name, language=aim)
            )
        return ConsentTarget(
            group.id,
            group.name,
            next_version,
            language=aim,
            version=latest.version,
            text=latest.text,
            translation=text_of(latest).translations.get(aim, ""),
        )


def _reads_as_aim(word: str) -> bool:
    return word.casefold() == OFF or word.casefold() in AVAILABLE


def _translation_base(
    session: Session, group_id: int, based_on: int, language: str, text: str, actor: Actor
) -> tuple[TherapyGroup, ConsentVersion, str]:
    """The group and its version in force that a translation into ``language`` is for, and
    the translation as it will be stored; AuthoringError when the version in force is no longer
    ``based_on`` (its words may have changed since the therapist read them) or the translation
    is the one it has."""
    group = _require_group(session, str(group_id), actor)
    assert group.id is not None
    latest = latest_versions(session, [group.id]).get(group.id)
    if latest is None or latest.version != based_on or latest.text is None:
        raise AuthoringError(
            meaning(
                Kind.CONSENT_CHANGED_MEANWHILE,
                group=group.name,
                version=based_on,
                language=language,
            )
        )
    cleaned = check_consent_text(text)
    if text_of(latest).translations.get(language) == cleaned:
        raise AuthoringError(
            meaning(
                Kind.CONSENT_TRANSLATION_UNCHANGED,
                group=group.name,
                version=latest.version,
                language=language,
            )
        )
    return group, latest, cleaned


def _with_translation(
    translations: Translations | None, language: str, text: str
) -> dict[str, dict[str, str]]:
    """``translations`` with ``language``'s text set (fields other than the text dropped: a
    consent version translates only its text)."""
    kept = {
        code: {TEXT: fields[TEXT]}
        for code, fields in (translations or {}).items()
        if isinstance(fields, dict) and isinstance(fields.get(TEXT), str)
    }
    kept[language] = {TEXT: text}
    return dict(sorted(kept.items()))


def draft_translation(
    database: Database, group_id: int, based_on: int, language: str, text: str, *, actor: Actor
) -> TranslationDraft:
    """Check a translation of version ``based_on`` before it is shown back; nothing is stored."""
    with database.read_session() as session:
        group, latest, cleaned = _translation_base(
            session, group_id, based_on, language, text, actor
        )
        assert group.id is not None and latest.text is not None
        translations = _with_translation(latest.translations, language, cleaned)
        return TranslationDraft(
            group.id,
            group.name,
            latest.version,
            latest.version + 1,
            latest.text,
            language,
            cleaned,
            language in text_of(latest).translations,
            tuple((code, fields[TEXT]) for code, fields in translations.items()),
        )


def set_consent(
    database: Database,
    now: datetime,
    group_id: int,
    text: str | None,
    *,
    based_on: int | None,
    actor: Actor,
) -> ConsentChange:
    """Make ``text`` the group's consent (None: ask for none) as its next version.

    ``based_on`` is the version in force when the therapist began (0: none); one saved since,
    by a colleague or at the same moment, refuses this save rather than silently replace the
    words they saved (and ask every member twice). None (``off``, which keeps no words of its
    own) checks nothing: a version saved at the same moment is simply switched off after it."""
    cleaned = None if text is None else check_consent_text(text)
    try:
        return _save_version(database, now, group_id, cleaned, based_on, actor)
    except _VersionTaken as taken:
        # Another save took this version number between the read and the commit (PostgreSQL;
        # on SQLite a writer reads only after the other's commit).
        if based_on is not None:
            raise _saved_meanwhile(taken.group_name, taken.version) from None
    return _save_version(database, now, group_id, cleaned, based_on, actor)


class _VersionTaken(Exception):
    def __init__(self, group_name: str, version: int) -> None:
        super().__init__(group_name, version)
        self.group_name, self.version = group_name, version


def _save_version(
    database: Database,
    now: datetime,
    group_id: int,
    cleaned: str | None,
    based_on: int | None,
    actor: Actor,
) -> ConsentChange:
    with database.session() as session:
        group = _require_group(session, str(group_id), actor)
        assert group.id is not None
        latest = _in_force_since(session, group, based_on)
        current = latest.text if latest is not None else None
        if cleaned is None and current is None:
            raise AuthoringError(meaning(Kind.CONSENT_ALREADY_OFF, group=group.name))
        if latest is not None and cleaned == current:
            raise AuthoringError(
                meaning(Kind.CONSENT_UNCHANGED, group=group.name, version=latest.version)
            )
        version = latest.version + 1 if latest is not None else 1
        if cleaned is None:
            # Nothing to agree to any more: what waited for an agreement is sent now. Before
            # the version is added: a flush of it here would raise a taken version number
            # outside the commit's handling below.
            release_held(session, now, group.id, None)
        session.add(
            ConsentVersion(group_id=group.id, version=version, text=cleaned, created_at=now)
        )
        # The text itself is in consent_versions under this version; the trail says which.
        record(
            session,
            now,
            actor,
            AuditAction.CONSENT_CHANGED,
            ObjectKind.GROUP,
            group.id,
            group_id=group.id,
            before={"version": latest.version if latest else 0, "required": current is not None},
            after={"version": version, "required": cleaned is not None},
        )
        group_name = group.name  # a failed commit expires the row
        try:
            session.commit()
        except IntegrityError:
            raise _VersionTaken(group_name, version) from None
        return ConsentChange(group_name, version, cleaned is not None)


def _in_force_since(
    session: Session, group: TherapyGroup, based_on: int | None
) -> ConsentVersion | None:
    """The group's version in force (None: it never had one); AuthoringError when it is no
    longer ``based_on`` (0: none), the version a therapist's dialogue began from. None checks
    nothing."""
    assert group.id is not None
    latest = latest_versions(session, [group.id]).get(group.id)
    in_force_version = latest.version if latest is not None else 0
    if based_on is not None and in_force_version != based_on:
        raise _saved_meanwhile(group.name, in_force_version)
    return latest


def _saved_meanwhile(group_name: str, version: int) -> AuthoringError:
    return AuthoringError(meaning(Kind.CONSENT_SAVED_MEANWHILE, group=group_name, version=version))


def set_translation(
    database: Database,
    now: datetime,
    group_id: int,
    based_on: int,
    language: str,
    text: str,
    *,
    actor: Actor,
) -> ConsentChange:
    """Make ``text`` the translation into ``language`` of the group's version ``based_on``
    (the one in force), as its next version: the text as written and the other translations
    stay, and members are asked to agree again as for any new version."""
    with database.session() as session:
        group, latest, cleaned = _translation_base(
            session, group_id, based_on, language, text, actor
        )
        assert group.id is not None
        version = latest.version + 1
        session.add(
            ConsentVersion(
                group_id=group.id,
                version=version,
                text=latest.text,
                translations=_with_translation(latest.translations, language, cleaned),
                created_at=now,
            )
        )
        # As for a new text as written: the version, never the words; and which translation.
        record(
            session,
            now,
            actor,
            AuditAction.CONSENT_CHANGED,
            ObjectKind.GROUP,
            group.id,
            group_id=group.id,
            before={"version": latest.version, "required": True},
            after={"version": version, "required": True, "translation": language},
        )
        group_name = group.name  # a failed commit expires the row
        try:
            session.commit()
        except IntegrityError:  # another save of the same version, at the same moment
            raise AuthoringError(
                meaning(
                    Kind.CONSENT_CHANGED_MEANWHILE,
                    group=group_name,
                    version=based_on,
                    language=language,
                )
            ) from None
        return ConsentChange(group_name, version, True)
