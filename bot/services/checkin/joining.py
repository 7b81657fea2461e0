"""Joining a group: /start with an invite code, or without one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.services.checkin.common import (
    _ENDED_ROLES,
    INVITE_CODE_RE,
    _group_names,
    _next_due,
    _person,
)
from bot.services.checkin.results import (
    InviteProblem,
    Patient,
    Policy,
    StartOutcome,
    StartResult,
    consent_question,
)
from bot.services.consent import ConsentText, agreed_before, has_agreed, in_force
from bot.services.erasure import mark
from bot.services.planning import plan_member, replan_person
from bot.services.throttle import blocked_until, record_failure
from storage.db import Database
from storage.models import ConsentRequest, Invite, Membership, Person, Role, TherapyGroup

# --- joining ----------------------------------------------------------------------------------


def start(
    database: Database, now: datetime, policy: Policy, who: Patient, code: str | None
) -> StartResult:
    """/start with or without an invite code: join a group, opt back in, or greet."""
    try:
        return _start(database, now, policy, who, code)
    except IntegrityError:
        # Two instances registered the same person or membership at once; the second attempt
        # finds the first one's rows.
        return _start(database, now, policy, who, code)


def _start(
    database: Database, now: datetime, policy: Policy, who: Patient, code: str | None
) -> StartResult:
    with database.session() as session:
        person = _person(session, who.telegram_user_id)
        if code is None:
            return _greet(session, now, policy, who, person)
        until = blocked_until(session, now, who.telegram_user_id)
        if until is not None:
            return StartResult(StartOutcome.THROTTLED, retry_at=until)
        invite = _find_invite(session, code)
        problem = invite_problem(invite, now)
        if problem is InviteProblem.UNKNOWN:
            # A guess, or a typo: counted, and nothing else is written for a stranger.
            failure = record_failure(session, now, policy.throttle, who.telegram_user_id)
            session.commit()
            return StartResult(
                StartOutcome.BAD_CODE,
                problem=problem,
                retry_at=failure.blocked_until,
                burst=failure.burst,
            )
        if invite is None:
            return StartResult(StartOutcome.BAD_CODE, problem=InviteProblem.UNKNOWN)
        group = session.get(TherapyGroup, invite.group_id)
        assert group is not None and group.id is not None
        if problem is not None and not _still_member(session, group, person):
            return StartResult(StartOutcome.BAD_CODE, problem=problem)
        # A member tapping the link they joined by, since used up, expired or withdrawn: they
        # need no new one, and are told they are in the group (the link itself stays unused).
        if shut_out(session, policy, who, person, group, invite):
            return StartResult(StartOutcome.BAD_CODE, problem=InviteProblem.REMOVED)
        required = in_force(session, group)
        if required is not None and not has_agreed(
            session, group.id, person.id if person else None, required.version
        ):
            if person is not None and _still_member(session, group, person):
                # A member, asked again after the text changed: the member's question (agree,
                # or leave), not "you are not in the group until you agree". One who stopped,
                # or blocked the bot, joins again by agreeing (``join`` brings them back).
                return StartResult(
                    StartOutcome.CONSENT_NEEDED,
                    group_name=group.name,
                    consent=consent_question(
                        False,
                        group.id,
                        required,
                        again=bool(agreed_before(session, [(group.id, person.id or 0)])),
                    ),
                )
            # Nothing of theirs is stored but their Telegram id and the invite it names,
            # until they agree: the join itself happens then (``consent.answer_join``).
            request_id = _request_consent(session, now, who.telegram_user_id, invite, required)
            session.commit()
            return StartResult(
                StartOutcome.CONSENT_NEEDED,
                group_name=group.name,
                consent=consent_question(True, request_id, required, again=False),
            )
        result = join(session, now, policy, who, invite, group, person)
        if result.outcome in (StartOutcome.JOINED, StartOutcome.ALREADY_MEMBER):
            session.commit()
        return result


def join(
    session: Session,
    now: datetime,
    policy: Policy,
    who: Patient,
    invite: Invite,
    group: TherapyGroup,
    person: Person | None,
) -> StartResult:
    """Make ``who`` a member of ``group`` through ``invite``; the caller commits if joined."""
    assert group.id is not None
    if person is None:
        person = Person(
            telegram_user_id=who.telegram_user_id,
            chat_id=who.chat_id,
            first_name=who.first_name[:200],
            last_name=who.last_name[:200],
            language_code=(who.language_code or "en")[:16],
            created_at=now,
        )
        session.add(person)
        session.flush()
    else:
        _refresh_identity(person, who)
    # Joining is consent again after /stop or /deletemydata, and a message from someone
    # who had blocked the bot shows they have unblocked it.
    came_back = person.opted_out or person.data_deleted_at is not None or person.unreachable
    person.opted_out = False
    person.data_deleted_at = None
    person.unreachable = False
    assert person.id is not None
    member = session.exec(
        select(Membership).where(
            Membership.group_id == group.id, Membership.person_id == person.id
        )
    ).first()
    outcome = StartOutcome.ALREADY_MEMBER
    if member is not None and member.role in _ENDED_ROLES:
        # Back after /deletemydata (this invite is consent for this group only), after a
        # removal, after declining a changed consent text, or a former therapist of the group
        # joining it as a patient.
        session.delete(member)
        session.flush()
        member = None
    if member is None:
        # Counted in the UPDATE itself, so two patients cannot both take an invite's last use.
        used = session.exec(
            update(Invite)
            .where(
                col(Invite.id) == invite.id,
                or_(
                    col(Invite.max_uses).is_(None),
                    col(Invite.max_uses) <= 0,
                    col(Invite.uses) < col(Invite.max_uses),
                ),
            )
            .values(uses=col(Invite.uses) + 1)
        )
        if used.rowcount != 1:
            return StartResult(StartOutcome.BAD_CODE, problem=InviteProblem.USED_UP)
        session.add(
            Membership(
                group_id=group.id,
                person_id=person.id,
                role=Role.PATIENT.value,
                joined_at=now,
            )
        )
        session.flush()
        outcome = StartOutcome.JOINED
    if came_back:
        replan_person(session, person, now, policy.default_zone)
    elif outcome == StartOutcome.JOINED:
        plan_member(session, person, group, now, policy.default_zone)
    session.flush()
    next_due = _next_due(session, person, now, policy, group_id=group.id)
    return StartResult(outcome, group_name=group.name, next_due=next_due, opted_back_in=came_back)


def shut_out(
    session: Session,
    policy: Policy,
    who: Patient,
    person: Person | None,
    group: TherapyGroup,
    invite: Invite,
) -> bool:
    """Whether ``invite`` no longer lets this person in: the therapist removed them after it
    was made (their data erased since, or not)."""
    assert group.id is not None
    return _removed_before(session, person, group, invite) or (
        person is None and _erased_and_removed(session, policy, who, group.id, invite)
    )


def _removed_before(
    session: Session, person: Person | None, group: TherapyGroup, invite: Invite
) -> bool:
    """Whether the therapist removed this person after ``invite`` was made.

    Only an invite made after a removal lets the patient back (the therapist's new decision);
    the old links and the seeded code no longer do.
    """
    if person is None:
        return False
    member = session.exec(
        select(Membership).where(
            Membership.group_id == group.id, Membership.person_id == person.id
        )
    ).first()
    return (
        member is not None
        and member.role == Role.REMOVED.value
        and member.ended_at is not None
        and invite.created_at <= member.ended_at
    )


def _erased_and_removed(
    session: Session, policy: Policy, who: Patient, group_id: int, invite: Invite
) -> bool:
    """Whether this user, removed from the group, erased their data before the invite was made.

    Joining again after an erasure makes a new person, so the removal of the erased row is
    found through its mark: erasing one's data must not open the invites a removal shut.
    """
    removed = session.exec(
        select(Membership.id)
        .join(Person, col(Person.id) == Membership.person_id)
        .where(
            Person.erased_user_mark == mark(policy.erasure_key, who.telegram_user_id),
            Membership.group_id == group_id,
            Membership.role == Role.REMOVED.value,
            col(Membership.ended_at) >= invite.created_at,
        )
    ).first()
    return removed is not None


def _request_consent(
    session: Session, now: datetime, user_id: int, invite: Invite, required: ConsentText
) -> int:
    """The pending join's row (one per person and invite), naming the version shown."""
    request = session.exec(
        select(ConsentRequest).where(
            ConsentRequest.telegram_user_id == user_id, ConsentRequest.invite_id == invite.id
        )
    ).first()
    if request is None:
        assert invite.id is not None
        request = ConsentRequest(telegram_user_id=user_id, invite_id=invite.id, version=0)
        session.add(request)
    request.version = required.version
    request.created_at = now
    session.flush()
    assert request.id is not None
    return request.id


def _still_member(session: Session, group: TherapyGroup, person: Person | None) -> bool:
    """A patient of the group who has not stopped, blocked the bot or erased their data."""
    return (
        person is not None
        and not person.opted_out
        and not person.unreachable
        and person.data_deleted_at is None
        and patient_place(session, group, person) is not None
    )


def patient_place(
    session: Session, group: TherapyGroup, person: Person | None
) -> Membership | None:
    """The person's place as a patient of the group, if they have one."""
    if person is None or person.id is None:
        return None
    return session.exec(
        select(Membership).where(
            Membership.group_id == group.id,
            Membership.person_id == person.id,
            Membership.role == Role.PATIENT.value,
        )
    ).first()


def _greet(
    session: Session, now: datetime, policy: Policy, who: Patient, person: Person | None
) -> StartResult:
    if person is None:
        return StartResult(StartOutcome.NEWCOMER)
    _refresh_identity(person, who)
    groups = _group_names(session, person)
    if not groups:
        session.commit()
        return StartResult(StartOutcome.NEWCOMER)
    outcome = StartOutcome.GREETING
    if person.opted_out or person.unreachable:
        if person.opted_out:
            outcome = StartOutcome.OPTED_IN
        # Their series stopped when Telegram refused a prompt or they opted out; plan it again.
        person.opted_out = False
        person.unreachable = False
        session.flush()
        replan_person(session, person, now, policy.default_zone)
        session.flush()
    next_due = _next_due(session, person, now, policy)
    session.commit()
    return StartResult(
        outcome,
        groups=groups,
        next_due=next_due,
        opted_back_in=outcome == StartOutcome.OPTED_IN,
    )


def _find_invite(session: Session, code: str) -> Invite | None:
    if not INVITE_CODE_RE.fullmatch(code):
        return None
    # People type a code they were told ("shoulder1"): a code is one whatever its case, which
    # the unique index on lower(code) enforces, and this lookup goes through that index.
    return session.exec(select(Invite).where(func.lower(col(Invite.code)) == code.lower())).first()


def invite_problem(invite: Invite | None, now: datetime) -> InviteProblem | None:
    if invite is None:
        return InviteProblem.UNKNOWN
    if invite.revoked_at is not None:
        return InviteProblem.REVOKED
    if invite.expires_at is not None and invite.expires_at <= now:
        return InviteProblem.EXPIRED
    if invite.max_uses is not None and invite.max_uses > 0 and invite.uses >= invite.max_uses:
        return InviteProblem.USED_UP
    return None


def _refresh_identity(person: Person, who: Patient) -> None:
    person.chat_id = who.chat_id
    if person.data_deleted_at is not None:
        return
    if who.first_name:
        person.first_name = who.first_name[:200]
        person.last_name = who.last_name[:200]
    if who.language_code:
        person.language_code = who.language_code[:16]
