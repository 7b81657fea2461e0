"""Whose language: a person's chosen language, else Telegram's, else the clinic's default.

The languages the bot speaks are named here (codes only; their names and sentences live in
``bot.texts``). A choice made with /language is stored in ``people.language`` and sticks;
``people.language_code`` keeps following what Telegram says, and counts only while there is
no choice.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services.audit import Actor, AuditAction, ObjectKind, record
from bot.services.erasure import was_erased
from bot.services.meaning import Kind, Meaning, meaning
from storage.db import Database
from storage.models import ConsentRequest, Person

# English is the source language; every other one has a catalog in bot/locale.
AVAILABLE: tuple[str, ...] = ("en", "de", "es")


def supported(code: str | None) -> str | None:
    """The language we have for an IETF tag as Telegram sends it ("de-AT" -> "de"), or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].strip().lower()
    return base if base in AVAILABLE else None


def resolve(choice: str | None, telegram_code: str | None, default: str) -> str:
    """The language to write in: the person's choice, else Telegram's, else the default."""
    return supported(choice) or supported(telegram_code) or default


@frozen
class ReaderLanguage:
    language: str
    # The person's row says otherwise than Telegram now does of their app's language, or has
    # no name yet (a therapist added by id): ``follow_telegram`` brings it up to date, so what
    # the bot writes to them outside an update (alerts, digests) is in their language too.
    outdated: bool = False


def language_of(
    database: Database,
    telegram_user_id: int,
    telegram_code: str | None,
    default: str,
    first_name: str = "",
) -> ReaderLanguage:
    """The language of the person behind an update; Telegram's code of this very update wins
    over the stored one, an explicit choice over both (for someone not yet joined, the choice
    kept with their waiting join)."""
    with database.read_session() as session:
        person = session.exec(
            select(
                Person.language,
                Person.language_code,
                Person.first_name,
                Person.data_deleted_at,
            ).where(Person.telegram_user_id == telegram_user_id)
        ).first()
        if person is None:
            choice = _joining_choice(session, telegram_user_id)
            return ReaderLanguage(resolve(choice, telegram_code, default))
    choice, stored_code, stored_name, erased = person
    outdated = erased is None and (
        bool(telegram_code and telegram_code[:16] != stored_code)
        or bool(first_name and not stored_name)
    )
    return ReaderLanguage(resolve(choice, telegram_code, default), outdated)


def follow_telegram(
    database: Database, telegram_user_id: int, telegram_code: str | None, first: str, last: str
) -> bool:
    """Keep a person's row as Telegram now tells of them: the app's language, and a name
    where none was known. Never for someone whose data was erased. Returns whether the
    language they are written to in changed (a therapist's chat menu then follows)."""
    with database.session() as session:
        person = session.exec(
            select(Person).where(
                Person.telegram_user_id == telegram_user_id,
                col(Person.data_deleted_at).is_(None),
            )
        ).first()
        if person is None:
            return False
        changed = False
        if telegram_code:
            changed = person.language is None and supported(telegram_code) != supported(
                person.language_code
            )
            person.language_code = telegram_code[:16]
        if first and not person.first_name:
            person.first_name, person.last_name = first[:200], last[:200]
        session.commit()
        return changed


def _joining_choice(session: Session, telegram_user_id: int) -> str | None:
    """The language chosen while a join waits for "I agree" (``ConsentRequest.language``)."""
    return session.exec(
        select(ConsentRequest.language)
        .where(
            ConsentRequest.telegram_user_id == telegram_user_id,
            col(ConsentRequest.language).is_not(None),
        )
        .order_by(col(ConsentRequest.created_at).desc(), col(ConsentRequest.id).desc())
    ).first()


def languages_of_chats(
    database: Database, chat_ids: Collection[int], default: str
) -> dict[int, str]:
    """The language of each private chat a job writes to (chat id = the person's user id);
    a chat of nobody we know gets the default."""
    wanted = set(chat_ids)
    found: dict[int, str] = {}
    if wanted:
        with database.read_session() as session:
            rows = session.exec(
                select(
                    Person.chat_id, Person.telegram_user_id, Person.language, Person.language_code
                ).where(col(Person.chat_id).in_(wanted) | col(Person.telegram_user_id).in_(wanted))
            ).all()
        for chat_id, user_id, choice, code in rows:
            for key in (chat_id, user_id):
                if key in wanted:
                    found[key] = resolve(choice, code, default)
    return {chat_id: found.get(chat_id, default) for chat_id in wanted}


@frozen
class LanguageChosen:
    language: str
    changed: bool
    # Kept with a join waiting for "I agree" (no person yet): its consent text is due again.
    joining: bool = False


def choose_language(
    database: Database,
    now: datetime,
    telegram_user_id: int,
    language: str,
    *,
    actor: Actor,
    therapist: bool = False,
    erasure_key: bytes | None = None,
) -> LanguageChosen:
    """Store a person's own choice of language, which later Telegram codes never override.

    A therapist named only in the configuration gets their row here. Someone whose join waits
    for "I agree" has no row yet: the choice is kept with the waiting join (nothing else of
    theirs is stored before they agree) and becomes theirs when they agree. Raises
    ``LanguageRefused`` for a language we do not have or a patient we do not know (one who
    never joined: until then, Telegram's language is theirs).
    """
    if language not in AVAILABLE:
        raise LanguageRefused(meaning(Kind.LANGUAGE_UNKNOWN, code=language))
    with database.session() as session:
        person = session.exec(
            select(Person).where(Person.telegram_user_id == telegram_user_id)
        ).first()
        if person is None and therapist:
            # The default role, as ``authoring._ensure_person`` leaves it: a therapist by
            # configuration stays one only while configured. Marked a therapist here, as
            # /addtherapist marks one, taking the id out of [therapists] ended nothing.
            person = Person(
                telegram_user_id=telegram_user_id,
                chat_id=telegram_user_id,
                created_at=now,
            )
            session.add(person)
            session.flush()
        if person is None:
            waiting = session.exec(
                select(ConsentRequest).where(ConsentRequest.telegram_user_id == telegram_user_id)
            ).all()
            if not waiting:
                if erasure_key is not None and was_erased(session, erasure_key, telegram_user_id):
                    # An old /language button of someone who erased their data: "join
                    # first" read as if they had never been here.
                    raise LanguageRefused(meaning(Kind.CHECKIN_DATA_WAS_DELETED))
                raise LanguageRefused(meaning(Kind.LANGUAGE_NOT_JOINED))
            changed = any(request.language != language for request in waiting)
            for request in waiting:
                request.language = language
                session.add(request)
            session.commit()
            return LanguageChosen(language, changed, joining=True)
        if person.id is None:
            raise LanguageRefused(meaning(Kind.LANGUAGE_NOT_JOINED))
        before = person.language
        changed = before != language
        if changed:
            person.language = language
            session.add(person)
            record(
                session,
                now,
                actor,
                AuditAction.LANGUAGE_CHOSEN,
                ObjectKind.PERSON,
                person.id,
                group_id=None,
                before={"language": before},
                after={"language": language},
            )
            session.commit()
    return LanguageChosen(language, changed)


class LanguageRefused(Exception):
    def __init__(self, said: Meaning) -> None:
        super().__init__(said.kind.value)
        self.said = said
