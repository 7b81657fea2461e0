"""The patient's answer to a group's consent text: "I agree" or "No, thanks".

Two questions carry these buttons. Joining (``/start CODE`` for a group that asks for
consent) waits in a ``consent_requests`` row; agreeing joins the group and stores the
agreement, declining deletes the row, so nothing of the person stays. A member asked again
after the text changed (the due scan asks instead of prompting) agrees, or declines and leaves
the group as ``/stop`` would for that group alone. Every button names the version it showed: a
press on an older text is answered with the text in force, never taken as agreement to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.services.audit import Actor, ActorRole, AuditAction, ObjectKind, record
from bot.services.checkin.answering import _finish
from bot.services.checkin.common import _ENDABLE, _person
from bot.services.checkin.joining import invite_problem, join, patient_place, shut_out
from bot.services.checkin.results import (
    ConsentAnswer,
    ConsentOutcome,
    ConsentQuestion,
    InviteProblem,
    Patient,
    Policy,
    StartOutcome,
    consent_question,
)
from bot.services.consent import (
    ConsentText,
    agreed_before,
    has_agreed,
    in_force,
    missing,
    record_agreement,
    words_read,
)
from storage.db import Database
from storage.models import (
    ConsentRequest,
    Delivery,
    DeliveryStatus,
    Invite,
    Membership,
    Person,
    Role,
    Task,
    TherapyGroup,
)

# A join nobody answered is forgotten after this long (``purge_requests``, the due scan).
REQUEST_LIFETIME = timedelta(days=7)


def answer_join(
    database: Database,
    now: datetime,
    policy: Policy,
    who: Patient,
    request_id: int,
    version: int,
    agree: bool,
    shown_in: str | None = None,
) -> ConsentAnswer:
    """Join with the agreement stored, or drop the pending join; one transaction.

    ``shown_in``: the words the message showed, as its button says (``words_read``)."""
    try:
        return _answer_join(database, now, policy, who, request_id, version, agree, shown_in)
    except IntegrityError:
        # The same press handled twice at once: the second finds the first one's rows.
        return _answer_join(database, now, policy, who, request_id, version, agree, shown_in)


def _answer_join(
    database: Database,
    now: datetime,
    policy: Policy,
    who: Patient,
    request_id: int,
    version: int,
    agree: bool,
    shown_in: str | None,
) -> ConsentAnswer:
    with database.session() as session:
        request = session.get(ConsentRequest, request_id)
        if request is None:
            # Answered already (they joined), or purged. A member whose group's text changed
            # since is owed the new one: this old button is what they found to press.
            owed = _owed_consent(session, who.telegram_user_id)
            if owed is not None:
                text, again = owed
                return ConsentAnswer(
                    ConsentOutcome.CHANGED,
                    group_name=text.group_name,
                    question=consent_question(False, text.group_id, text, again=again),
                )
            if _is_patient(session, who.telegram_user_id):
                # Pressed again (a double tap), once the join it answered was done.
                return ConsentAnswer(ConsentOutcome.ANSWERED)
            return ConsentAnswer(ConsentOutcome.GONE)
        # Someone else's button (a forwarded message, a forged press) names no request of theirs.
        if request.telegram_user_id != who.telegram_user_id:
            return ConsentAnswer(ConsentOutcome.GONE)
        invite = session.get(Invite, request.invite_id)
        group = session.get(TherapyGroup, invite.group_id) if invite is not None else None
        if invite is None or group is None:
            return ConsentAnswer(ConsentOutcome.GONE)
        if not agree:
            session.delete(request)
            person = _person(session, who.telegram_user_id)
            membership = patient_place(session, group, person)
            required = in_force(session, group)
            if (
                person is not None
                and membership is not None
                and required is not None
                and not has_agreed(session, group.id or 0, person.id, required.version)
            ):
                # A member who came back by the link (after /stop) and declines the changed
                # text leaves the group, as under the text the scan sends.
                answer = _withdraw(session, now, person, group, membership, version)
                session.commit()
                return answer
            session.commit()
            # "Nothing about you was stored" is true only of someone who is no patient yet.
            return ConsentAnswer(
                ConsentOutcome.DECLINED,
                group_name=group.name,
                known=person is not None and person.data_deleted_at is None,
            )
        required = in_force(session, group)
        if required is not None and required.version != version:
            # The text changed after this message was sent: agreeing to it now would be
            # agreeing to words the patient has not seen.
            request.version = required.version
            session.commit()
            return ConsentAnswer(
                ConsentOutcome.CHANGED,
                group_name=group.name,
                question=consent_question(True, request_id, required, again=False),
            )
        problem = invite_problem(invite, now)
        if problem is not None:
            session.delete(request)
            session.commit()
            return ConsentAnswer(ConsentOutcome.BAD_CODE, group_name=group.name, problem=problem)
        person = _person(session, who.telegram_user_id)
        if shut_out(session, policy, who, person, group, invite):
            # Removed by the therapist while this question waited: "I agree" to it does not
            # undo the removal, as the invite itself no longer would.
            session.delete(request)
            session.commit()
            return ConsentAnswer(
                ConsentOutcome.BAD_CODE, group_name=group.name, problem=InviteProblem.REMOVED
            )
        joined = join(session, now, policy, who, invite, group, person)
        if joined.outcome not in (StartOutcome.JOINED, StartOutcome.ALREADY_MEMBER):
            session.rollback()
            stale = session.get(ConsentRequest, request_id)
            if stale is not None:
                session.delete(stale)
            session.commit()
            return ConsentAnswer(
                ConsentOutcome.BAD_CODE, group_name=group.name, problem=joined.problem
            )
        session.delete(request)
        person = _person(session, who.telegram_user_id)
        assert person is not None and person.id is not None and group.id is not None
        if request.language is not None and request.language != person.language:
            _keep_language_chosen(session, now, person, request.language)
        if required is not None:
            record_agreement(
                session, now, _PATIENT, required, person.id, words_read(required, shown_in)
            )
        session.commit()
        return ConsentAnswer(
            ConsentOutcome.JOINED,
            group_name=group.name,
            version=required.version if required is not None else 0,
            next_due=joined.next_due,
        )


def _is_patient(session: Session, telegram_user_id: int) -> bool:
    """Whether this user is a patient of some group now."""
    person = _person(session, telegram_user_id)
    if person is None or person.id is None:
        return False
    return (
        session.exec(
            select(Membership.id).where(
                Membership.person_id == person.id,
                Membership.role == Role.PATIENT.value,
                col(Membership.ended_at).is_(None),
            )
        ).first()
        is not None
    )


def _owed_consent(session: Session, telegram_user_id: int) -> tuple[ConsentText, bool] | None:
    """The consent text in force of a group this person is a patient of and has not agreed
    to (the oldest such group), if any, and whether they agreed to an earlier version."""
    person = _person(session, telegram_user_id)
    if person is None or person.id is None:
        return None
    group_ids = session.exec(
        select(Membership.group_id).where(
            Membership.person_id == person.id, Membership.role == Role.PATIENT.value
        )
    ).all()
    owed = missing(session, [(group_id, person.id) for group_id in group_ids])
    for group_id, _person_id in sorted(owed):
        group = session.get(TherapyGroup, group_id)
        required = in_force(session, group) if group is not None else None
        if required is not None:
            return required, bool(agreed_before(session, [(group_id, person.id)]))
    return None


def _keep_language_chosen(session: Session, now: datetime, person: Person, language: str) -> None:
    """The language chosen while the join waited becomes the person's, as /language makes it."""
    record(
        session,
        now,
        _PATIENT,
        AuditAction.LANGUAGE_CHOSEN,
        ObjectKind.PERSON,
        person.id,
        group_id=None,
        before={"language": person.language},
        after={"language": language},
    )
    person.language = language
    session.add(person)


def answer_member(
    database: Database,
    now: datetime,
    user_id: int,
    group_id: int,
    version: int,
    agree: bool,
    shown_in: str | None = None,
) -> ConsentAnswer:
    """A member's answer to a changed consent text: agree, or leave the group (``shown_in``:
    as for ``answer_join``)."""
    try:
        return _answer_member(database, now, user_id, group_id, version, agree, shown_in)
    except IntegrityError:
        return _answer_member(database, now, user_id, group_id, version, agree, shown_in)


def _answer_member(
    database: Database,
    now: datetime,
    user_id: int,
    group_id: int,
    version: int,
    agree: bool,
    shown_in: str | None,
) -> ConsentAnswer:
    with database.session() as session:
        person = _person(session, user_id)
        group = session.get(TherapyGroup, group_id)
        if person is None or person.id is None or group is None or group.id is None:
            return ConsentAnswer(ConsentOutcome.GONE)
        membership = patient_place(session, group, person)
        if membership is None:
            return ConsentAnswer(ConsentOutcome.GONE, group_name=group.name)
        required = in_force(session, group)
        if required is None:
            return ConsentAnswer(ConsentOutcome.NOT_NEEDED, group_name=group.name)
        if required.version != version:
            return ConsentAnswer(
                ConsentOutcome.CHANGED,
                group_name=group.name,
                question=consent_question(
                    False,
                    group.id,
                    required,
                    again=bool(agreed_before(session, [(group.id, person.id)])),
                ),
            )
        if agree:
            record_agreement(
                session, now, _PATIENT, required, person.id, words_read(required, shown_in)
            )
            session.commit()
            return ConsentAnswer(ConsentOutcome.AGREED, group_name=group.name, version=version)
        answer = _withdraw(session, now, person, group, membership, version)
        session.commit()
        return answer


def waiting_join(database: Database, now: datetime, user_id: int) -> ConsentQuestion | None:
    """The consent question of the newest join this Telegram user left waiting for "I agree",
    if "I agree" would still join them; None when no such join waits."""
    with database.read_session() as session:
        waiting = session.exec(
            select(ConsentRequest)
            .where(ConsentRequest.telegram_user_id == user_id)
            .order_by(col(ConsentRequest.created_at).desc(), col(ConsentRequest.id).desc())
        ).all()
        for request in waiting:
            invite = session.get(Invite, request.invite_id)
            group = session.get(TherapyGroup, invite.group_id) if invite is not None else None
            if group is None or request.id is None or invite_problem(invite, now) is not None:
                continue
            required = in_force(session, group)
            if required is not None:
                return consent_question(True, request.id, required, again=False)
    return None


# The patient's own act, recorded without their Telegram id (the trail outlives an erasure,
# and the person row it names is enough to tell whose agreement it was).
_PATIENT = Actor(None, ActorRole.PATIENT)


def _withdraw(
    session: Session,
    now: datetime,
    person: Person,
    group: TherapyGroup,
    membership: Membership,
    version: int,
) -> ConsentAnswer:
    """A member declines the group's changed text: they leave it, and the trail says so."""
    assert person.id is not None and group.id is not None
    cancelled = _leave(session, now, membership)
    record(
        session,
        now,
        _PATIENT,
        AuditAction.CONSENT_WITHDRAWN,
        ObjectKind.PERSON,
        person.id,
        group_id=group.id,
        after={"version": version},
    )
    return ConsentAnswer(
        ConsentOutcome.LEFT, group_name=group.name, version=version, cancelled=cancelled
    )


def _leave(session: Session, now: datetime, membership: Membership) -> int:
    """What /stop does, for this group only: no check-in of it is planned, open ones end."""
    group_tasks = select(Task.id).where(Task.group_id == membership.group_id).scalar_subquery()
    session.exec(
        delete(Delivery).where(
            col(Delivery.person_id) == membership.person_id,
            col(Delivery.status) == DeliveryStatus.PENDING.value,
            col(Delivery.task_id).in_(group_tasks),
        )
    )
    open_rows = session.exec(
        select(Delivery).where(
            Delivery.person_id == membership.person_id,
            col(Delivery.status).in_(_ENDABLE),
            col(Delivery.task_id).in_(group_tasks),
        )
    ).all()
    for delivery in open_rows:
        _finish(delivery, now, DeliveryStatus.CANCELLED)
    membership.role = Role.DECLINED.value
    membership.ended_at = now
    return len(open_rows)


def purge_requests(database: Database, now: datetime) -> int:
    """Forget joins left unanswered for a week (the due scan calls this); return how many."""
    with database.session() as session:
        result = session.exec(
            delete(ConsentRequest).where(col(ConsentRequest.created_at) <= now - REQUEST_LIFETIME)
        )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
