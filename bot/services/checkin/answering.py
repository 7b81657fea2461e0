"""Answering: a typed or tapped answer, a skipped question, the summary and the alerts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from bot.frozen import frozen
from bot.services.checkin.alerting import alert_notices
from bot.services.checkin.common import (
    _IN_PROGRESS,
    _activate,
    _active_questions,
    _answers,
    _asking,
    _closed,
    _count_open,
    _first_unanswered,
    _id,
    _offer,
    _open_delivery,
    _person,
    _postpone_reminder,
    _question_view,
    _rules,
    _shown_value,
    _stranger,
    _task,
)
from bot.services.checkin.results import (
    AlertNotice,
    AnsweredView,
    Idle,
    MessageAnswered,
    NoQuestion,
    NotShown,
    Policy,
    PressAnswered,
    Progress,
    QuestionView,
    Reask,
    Refusal,
    Refused,
    Summary,
    SummaryLine,
)
from bot.services.checkin.shown import (
    _await_question,
    answered_by_press,
    came_after,
    reworded_since,
    sent_but_unrecorded,
    typed_after_unrecorded,
)
from bot.services.content import TEXT, TITLE, localized, localized_options, title_of
from bot.services.meaning import Kind, meaning
from bot.services.responses import (
    Accepted,
    Rejected,
    Reply,
    alert_matches,
    parse_alert_rule,
    parse_reply,
)
from bot.services.revisions import answered_revisions, current_revision
from storage.db import Database
from storage.models import (
    Answer,
    Delivery,
    DeliveryStatus,
    Person,
    Question,
    QuestionRevision,
    Task,
)

# --- answers ----------------------------------------------------------------------------------


def answer_message(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    reply: Reply,
    message_id: int,
    sent_at: datetime | None = None,
) -> MessageAnswered:
    """Take a typed or uploaded message as the answer to the question being asked.

    Only the question whose message reached the patient before they wrote can be answered
    this way (``came_after``); for any other the message is not stored as an answer and
    ``NotShown`` says what to send. ``sent_at`` is when Telegram says the message was sent.
    """
    with database.session() as session:
        fast = _answer_in_passing(session, now, user_id, reply, message_id, sent_at)
        if fast is not None:
            return fast
        person = _person(session, user_id)
        outcome = _answer(session, now, policy, user_id, person, reply, message_id, sent_at)
        return MessageAnswered(outcome, person.language if person is not None else None)


# How long after a check-in closed with a question on the screen a reply is still taken for
# an answer to it, and told that it came too late, rather than "no question is waiting".
_LATE_ANSWER_WINDOW = timedelta(days=1)


def _closed_under_it(session: Session, now: datetime, person: Person, message_id: int) -> bool:
    """Whether the patient's message answers a question whose check-in expired meanwhile:
    a check-in that expired lately had a question on the screen, sent before this message and
    after anything the patient answered since."""
    last = session.exec(
        select(Delivery)
        .where(
            Delivery.person_id == person.id,
            Delivery.status == DeliveryStatus.EXPIRED.value,
            col(Delivery.asked_question_id).is_not(None),
            col(Delivery.finished_at) >= now - _LATE_ANSWER_WINDOW,
        )
        .order_by(col(Delivery.finished_at).desc(), col(Delivery.id).desc())
        .limit(1)
    ).first()
    if last is None:
        return False
    shown = last.asked_message_id
    answered_since = (person.last_answer_message_id or 0) > (shown or 0)
    return not answered_since and (shown is None or shown < message_id)


def _asked_removed(delivery: Delivery, questions: list[Question]) -> bool:
    """Whether the question last asked was removed since: questions are never deleted, so
    one asked but no longer active was removed meanwhile."""
    return delivery.asked_question_id is not None and all(
        q.id != delivery.asked_question_id for q in questions
    )


def _answer(
    session: Session,
    now: datetime,
    policy: Policy,
    user_id: int,
    person: Person | None,
    reply: Reply,
    message_id: int,
    sent_at: datetime | None,
) -> Progress | Reask | Refused | NoQuestion | NotShown:
    """The general path of ``answer_message``: every case, through the ORM."""
    if person is None:
        erased = _stranger(session, policy, user_id) is Refusal.ERASED
        return NoQuestion(Idle.ERASED if erased else Idle.UNKNOWN_PERSON)
    if person.last_answer_message_id is not None and message_id <= person.last_answer_message_id:
        return NoQuestion(Idle.DUPLICATE)
    delivery = _asking(session, person, lock=True)
    if delivery is None:
        if _closed_under_it(session, now, person, message_id):
            return NoQuestion(Idle.CLOSED, _count_open(session, now, person))
        return NoQuestion(Idle.NOTHING_ASKED, _count_open(session, now, person))
    task = _task(session, delivery)
    if _closed(delivery, now):
        return Refused(Refusal.CLOSED, title_of(task))
    previous_message_id = person.last_answer_message_id
    person.last_answer_message_id = message_id
    # The reads below do not depend on it: its UPDATE goes out with the answer's INSERT.
    with session.no_autoflush:
        questions = _active_questions(session, task)
        answers = _answers(session, delivery)
    current = _first_unanswered(questions, answers)
    if current is None:
        progress = _complete(session, now, policy, person, delivery, task, questions, answers)
        session.commit()
        # The message answered the last question, removed while on the screen: not kept.
        return replace(progress, question_removed=_asked_removed(delivery, questions))
    if delivery.asked_question_id != current.id and sent_but_unrecorded(
        delivery.ask_pending_since, delivery.asked_message_id, message_id
    ):
        # The question went out just before the bot stopped, too late to be recorded.
        delivery.asked_question_id = current.id
        delivery.asked_message_id = None
        delivery.asked_at = now
        delivery.asked_revision = current.revision
        delivery.ask_pending_since = None
    if delivery.asked_question_id == current.id and reworded_since(
        delivery.asked_revision, current.revision
    ):
        # Its message holds words reworded since (perhaps while it was on its way): whenever
        # this was typed, it is not an answer to today's.
        return _reworded(session, now, delivery, task, questions, current, message_id)
    # Typed after the question's first send, which went unrecorded, and before it was sent
    # again: its answer all the same.
    answers_first_send = typed_after_unrecorded(
        delivery, current.id, previous_message_id, message_id
    )
    if answers_first_send:
        delivery.ask_pending_since = None
    elif delivery.asked_question_id != current.id or not came_after(
        delivery.asked_message_id, delivery.asked_at, message_id, sent_at
    ):
        # A question stored as next and not recorded as sent may have reached the patient
        # all the same: its new send says so (``Shown.maybe_shown_before``).
        shown_already = delivery.asked_question_id == current.id
        maybe_shown = delivery.ask_pending_since is not None and not shown_already
        removed = _asked_removed(delivery, questions)
        if not shown_already:
            _await_question(delivery, now, message_id)
        # else the message came before the question's recorded send: the question stays
        # on the screen from that send on, and its answer may be typed between the two.
        view = _question_view(_id(delivery), title_of(task), questions, current)
        session.commit()
        return NotShown(
            view, maybe_shown_before=maybe_shown, shown_already=shown_already, removed=removed
        )
    revision = current_revision(session, current)
    result = (
        Rejected(meaning(Kind.HINT_REPLIED_TO_EARLIER))
        if replies_to_earlier(reply, delivery.asked_message_id)
        else parse_reply(_rules(current), reply)
    )
    if isinstance(result, Rejected):
        return _reject(session, now, policy, delivery, task, questions, current, result)
    asked = _Asked(person, delivery, task, questions, answers, current, revision)
    return _store(session, now, policy, asked, result, typed_message_id=message_id)


# The answer to a question that is not the last one, the commonest update the bot gets, in
# one locked read and three writes of plain rows (the answer, the person's last message, the
# delivery's next question), which PostgreSQL takes as one statement.
# Through the ORM (the general path below it) the same work took four times as long, most of
# it building statements and flushing the unit of work, not in the database
# (benchmarks/bench_answers.py measures it against a bare echo).
_P, _D, _T, _Q, _A = (
    SQLModel.metadata.tables[name]
    for name in ("people", "deliveries", "tasks", "questions", "answers")
)
_R = SQLModel.metadata.tables["question_revisions"]
# One row per active question of each check-in the patient has in progress, with the answer
# already given to it, if any; the delivery rows are locked as the general path locks them.
_PASSING_READ = (
    sa_select(
        _P.c.id.label("person_id"),
        _P.c.last_answer_message_id,
        _P.c.language,
        _D.c.id.label("delivery_id"),
        _D.c.started_at,
        _D.c.expires_at,
        _D.c.current_tries,
        _D.c.asked_question_id,
        _D.c.asked_message_id,
        _D.c.asked_at,
        _D.c.asked_revision,
        _T.c.title,
        _T.c.translations.label("title_translations"),
        _Q.c.id,
        _Q.c.revision,
        _Q.c.position,
        _Q.c.description,
        _Q.c.link,
        _Q.c.response_type,
        _Q.c.options,
        _Q.c.min_value,
        _Q.c.max_value,
        _Q.c.integer_only,
        _Q.c.max_length,
        _Q.c.required,
        _Q.c.alert_rule,
        _Q.c.translations,
        _R.c.id.label("revision_id"),
        _A.c.id.label("answer_id"),
    )
    .select_from(
        _P.join(_D, and_(_D.c.person_id == _P.c.id, _D.c.status == _IN_PROGRESS))
        .join(_T, _T.c.id == _D.c.task_id)
        .join(_Q, and_(_Q.c.task_id == _T.c.id, _Q.c.removed_at.is_(None)))
        .join(_R, and_(_R.c.question_id == _Q.c.id, _R.c.revision == _Q.c.revision))
        .outerjoin(_A, and_(_A.c.question_id == _Q.c.id, _A.c.delivery_id == _D.c.id))
    )
    .where(_P.c.telegram_user_id == bindparam("user_id"))
    .order_by(_D.c.id, _Q.c.position)
    .with_for_update(of=_D)
)
_PASSING_ANSWER = sa_insert(_A)
_PASSING_PERSON = (
    update(_P)
    .where(_P.c.id == bindparam("person_id"))
    .values(last_answer_message_id=bindparam("message_id"))
)
# The next question is stored as to be sent; ``note_question_shown`` clears it once it was.
_PASSING_NEXT = (
    update(_D)
    .where(_D.c.id == bindparam("delivery_id"))
    .values(
        current_tries=0,
        ask_pending_since=bindparam("now"),
        # See _await_question.
        asked_message_id=bindparam("message_id"),
        ask_after_message_id=bindparam("message_id"),
    )
)
_ANSWER_COLUMNS = (
    "delivery_id",
    "question_id",
    "question_revision_id",
    "value_text",
    "value_number",
    "value_bool",
    "file_id",
    "skipped",
    "answered_at",
)
# On PostgreSQL the three writes are one statement (data-modifying CTEs run exactly once,
# referenced or not): each round trip to the server costs ~0.25 ms on a small machine, more
# than the work. A duplicate answer still fails the INSERT, and with it the whole statement.
# Bound names differ from every column's: SQLAlchemy would take a parameter named like a
# column of the updated table as a value to SET.
_PASSING_WRITE_AT_ONCE = (
    update(_D)
    .where(_D.c.id == bindparam("b_delivery"))
    .values(current_tries=0, ask_pending_since=bindparam("b_now"))
    .values(asked_message_id=bindparam("b_message"), ask_after_message_id=bindparam("b_message"))
    .add_cte(
        sa_insert(_A).values({name: bindparam(f"b_{name}") for name in _ANSWER_COLUMNS}).cte("a"),
        update(_P)
        .where(_P.c.id == bindparam("b_person"))
        .values(last_answer_message_id=bindparam("b_message"))
        .cte("p"),
    )
)


def _answer_in_passing(
    session: Session,
    now: datetime,
    user_id: int,
    reply: Reply,
    message_id: int,
    sent_at: datetime | None,
) -> MessageAnswered | None:
    """Store a valid answer to a question with another one after it; None for anything else.

    Exactly what the general path does in that case (same rows, locks, result); every other
    case (a stranger, a repeat, a closed or finished task, a second task in progress, an alert
    rule, a question not shown, an invalid answer) returns None without writing, and the
    general path takes over.
    """
    connection = session.connection()
    questions = connection.execute(_PASSING_READ, {"user_id": user_id}).all()
    if not questions or questions[0].delivery_id != questions[-1].delivery_id:
        return None  # nothing in progress, or two check-ins: the general path decides
    row = questions[0]
    repeated = row.last_answer_message_id is not None and message_id <= row.last_answer_message_id
    if repeated or row.started_at is None or row.expires_at <= now:
        return None
    open_ones = [q for q in questions if q.answer_id is None]
    if len(open_ones) < 2 or open_ones[0].alert_rule:
        return None
    current, following = open_ones[0], open_ones[1]
    if current.id != row.asked_question_id or not came_after(
        row.asked_message_id, row.asked_at, message_id, sent_at
    ):
        return None  # not shown before it was written: the general path says so and sends it
    if reworded_since(row.asked_revision, current.revision):
        return None  # reworded since it was sent: the general path sends the new wording
    if replies_to_earlier(reply, row.asked_message_id):
        return None  # the general path asks again
    rules = _rules(current)
    accepted = parse_reply(rules, reply)
    if not isinstance(accepted, Accepted):
        return None
    title = localized(row.title, row.title_translations, TITLE)
    answer = {
        "delivery_id": row.delivery_id,
        "question_id": current.id,
        "question_revision_id": current.revision_id,
        "value_text": accepted.display,
        "value_number": accepted.number,
        "value_bool": accepted.boolean,
        "file_id": accepted.file_id,
        "skipped": False,
        "answered_at": now,
    }
    try:
        if connection.dialect.name == "postgresql":
            at_once = {f"b_{name}": value for name, value in answer.items()}
            at_once |= {
                "b_delivery": row.delivery_id,
                "b_person": row.person_id,
                "b_now": now,
                "b_message": message_id,
            }
            connection.execute(_PASSING_WRITE_AT_ONCE, at_once)
        else:
            connection.execute(_PASSING_ANSWER, answer)
            connection.execute(
                _PASSING_PERSON, {"person_id": row.person_id, "message_id": message_id}
            )
            connection.execute(
                _PASSING_NEXT,
                {"delivery_id": row.delivery_id, "now": now, "message_id": message_id},
            )
    except IntegrityError:
        session.rollback()
        return MessageAnswered(Refused(Refusal.ALREADY, title), row.language)
    # No reminder is moved: the scan puts off one that falls due within a wait of this
    # answer (delivery._claim_reminders).
    session.commit()

    def view(question: Any) -> QuestionView:
        return _question_view(row.delivery_id, title, questions, question)

    progress = Progress(
        delivery_id=row.delivery_id,
        task_title=title,
        answered=AnsweredView(view(current), _shown_value(rules.options, accepted.display)),
        question=view(following),
    )
    return MessageAnswered(progress, row.language)


def answer_button(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    question_id: int,
    token: str,
    *,
    newest_known: int | None = None,
    shown_revision: int | None = None,
    pressed_message_id: int | None = None,
) -> PressAnswered:
    """Store the answer a button carries, if it belongs to the question being asked.

    ``newest_known``: the newest message of the chat the bot knew of at the press (see
    ``_await_question``). ``shown_revision``: the revision whose words the pressed message
    held, as its button says (None for a button made before buttons said so).
    ``pressed_message_id``: the message pressed, which the caller edits to show the answer.
    """
    with database.session() as session:
        found = _current_for_press(
            session, now, policy, user_id, delivery_id, question_id, shown_revision
        )
        if isinstance(found, (Refused, NotShown)):
            return PressAnswered(found, _chosen_language(session, user_id))
        chosen = found.person.language
        result = parse_reply(_rules(found.question), Reply(kind="button", text=token))
        if isinstance(result, Rejected):
            return PressAnswered(Refused(Refusal.NOT_AN_OPTION, title_of(found.task)), chosen)
        answered_by_press(session, delivery_id, pressed_message_id)
        return PressAnswered(
            _store(session, now, policy, found, result, newest_known=newest_known), chosen
        )


def skip_question(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    question_id: int,
    *,
    newest_known: int | None = None,
    pressed_message_id: int | None = None,
) -> PressAnswered:
    """Skip an optional question and ask the next one (``newest_known``,
    ``pressed_message_id``: as for a button)."""
    with database.session() as session:
        found = _current_for_press(session, now, policy, user_id, delivery_id, question_id)
        if isinstance(found, (Refused, NotShown)):
            return PressAnswered(found, _chosen_language(session, user_id))
        chosen = found.person.language
        if found.question.required:
            return PressAnswered(Refused(Refusal.REQUIRED, title_of(found.task)), chosen)
        answered_by_press(session, delivery_id, pressed_message_id)
        return PressAnswered(
            _store(session, now, policy, found, None, newest_known=newest_known), chosen
        )


def _chosen_language(session: Session, user_id: int) -> str | None:
    """The presser's choice, for a press refused or not shown: ``_current_for_press`` read the
    person on the way but returns only its verdict, and these paths are the rarer ones."""
    person = _person(session, user_id)
    return person.language if person is not None else None


@frozen
class _Asked:
    """The question being asked, with what was read under the delivery's row lock to ask it:
    ``answers`` are the delivery's answers so far, so storing one needs no second read."""

    person: Person
    delivery: Delivery
    task: Task
    questions: list[Question]
    answers: dict[int, Answer]
    question: Question
    revision: QuestionRevision


def _current_for_press(
    session: Session,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    question_id: int,
    shown_revision: int | None = None,
) -> _Asked | Refused | NotShown:
    found = _open_delivery(session, now, policy, user_id, delivery_id)
    if isinstance(found, Refused):
        return found
    person, delivery, task = found
    questions = _active_questions(session, task)
    answers = _answers(session, delivery)
    if question_id in answers:
        return Refused(Refusal.ALREADY, title_of(task))
    current = _first_unanswered(questions, answers)
    if current is None or current.id != question_id:
        later = current is not None and any(
            q.id == question_id and q.position > current.position for q in questions
        )
        return Refused(Refusal.NOT_YET if later else Refusal.STALE, title_of(task))
    revision = current_revision(session, current)
    if shown_revision is not None:
        # The button names the words it showed: exact, whatever was recorded of the send.
        reworded = shown_revision != current.revision
    elif delivery.asked_question_id == current.id:
        reworded = reworded_since(delivery.asked_revision, current.revision)
    else:
        # An older button, pressed before the send of its message was recorded (the record
        # waits for the inbox's batch, or a kill lost it): which words it showed is not known,
        # so a rewording after the last record counts.
        reworded = delivery.asked_at is None or revision.created_at > delivery.asked_at
    if reworded:
        return _reworded(session, now, delivery, task, questions, current, None)
    return _Asked(person, delivery, task, questions, answers, current, revision)


def _reworded(
    session: Session,
    now: datetime,
    delivery: Delivery,
    task: Task,
    questions: list[Question],
    current: Question,
    message_id: int | None,
) -> NotShown:
    """The therapist reworded the question on the patient's screen: send it as it reads now.

    The patient's reply answered a wording no longer asked, so it is not stored; from here on
    the check-in follows the new revision (see README, "Editing a task").
    """
    _await_question(delivery, now, message_id)
    view = _question_view(_id(delivery), title_of(task), questions, current)
    session.commit()
    return NotShown(view, reworded=True)


def replies_to_earlier(reply: Reply, question_message_id: int | None) -> bool:
    """Whether the patient swiped to reply to a message older than the question now asked
    (an earlier question, yesterday's check-in): "sorry, I meant 4" there is not this
    question's answer. Message ids grow within a chat, so older is smaller."""
    return (
        reply.reply_to is not None
        and question_message_id is not None
        and reply.reply_to < question_message_id
    )


def _reject(
    session: Session,
    now: datetime,
    policy: Policy,
    delivery: Delivery,
    task: Task,
    questions: list[Question],
    current: Question,
    rejected: Rejected,
) -> Reask:
    delivery.current_tries += 1
    _postpone_reminder(delivery, now, policy)
    tries = delivery.current_tries
    view = _question_view(_id(delivery), title_of(task), questions, current)
    session.commit()
    many = tries >= policy.max_reasks
    return Reask(
        question=view,
        hint=rejected.hint,
        tries=tries,
        offer_skip=many and not current.required,
        stuck=many and current.required,
    )


def _store(
    session: Session,
    now: datetime,
    policy: Policy,
    asked: _Asked,
    accepted: Accepted | None,
    *,
    typed_message_id: int | None = None,
    newest_known: int | None = None,
) -> Progress | Refused:
    """Record an answer (None: skipped) and move on; the caller's session is committed here.

    ``typed_message_id``: the patient's message that was the answer (None for a button, where
    ``newest_known`` is the chat's newest message the bot knew of at the press, if any).
    """
    person, delivery, task, questions = asked.person, asked.delivery, asked.task, asked.questions
    question, revision, answers = asked.question, asked.revision, asked.answers
    answer = Answer(
        delivery_id=_id(delivery),
        question_id=_id(question),
        question_revision_id=_id(revision),
        value_text=accepted.display if accepted else "",
        value_number=accepted.number if accepted else None,
        value_bool=accepted.boolean if accepted else None,
        file_id=accepted.file_id if accepted else None,
        skipped=accepted is None,
        answered_at=now,
    )
    session.add(answer)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return Refused(Refusal.ALREADY, title_of(task))
    view = _question_view(_id(delivery), title_of(task), questions, question)
    answered = AnsweredView(
        view,
        _shown_value(view.rules.options, accepted.display) if accepted else "",
        skipped=accepted is None,
    )
    alerts = (
        _alerts(session, now, policy, person, task, question, answer, accepted) if accepted else ()
    )
    paused_title = _activate(session, now, person, delivery)
    # Under the delivery's lock nothing but this answer was added since the caller's read.
    answers = {**answers, _id(question): answer}
    following = _first_unanswered(questions, answers)
    if following is None:
        progress = _complete(session, now, policy, person, delivery, task, questions, answers)
        progress = replace(progress, answered=answered, alerts=alerts, paused_title=paused_title)
    else:
        delivery.current_tries = 0
        _await_question(
            delivery, now, typed_message_id if typed_message_id is not None else newest_known
        )
        progress = Progress(
            delivery_id=_id(delivery),
            task_title=title_of(task),
            answered=answered,
            question=_question_view(_id(delivery), title_of(task), questions, following),
            alerts=alerts,
            paused_title=paused_title,
        )
    session.commit()
    return progress


def _complete(
    session: Session,
    now: datetime,
    policy: Policy,
    person: Person,
    delivery: Delivery,
    task: Task,
    questions: list[Question],
    answers: dict[int, Answer],
) -> Progress:
    _finish(delivery, now, DeliveryStatus.COMPLETED)
    # In the words the patient answered, should a question have been reworded since.
    revisions = answered_revisions(session, (a.question_revision_id for a in answers.values()))
    lines = []
    for question in questions:
        answer = answers.get(_id(question))
        if answer is None:
            continue
        # In the patient's language where the revision answered has one.
        shown = revisions.get(answer.question_revision_id) or question
        lines.append(
            SummaryLine(
                description=localized(shown.description, shown.translations, TEXT),
                display=_shown_value(
                    localized_options(shown.options, shown.translations), answer.value_text
                ),
                skipped=answer.skipped,
            )
        )
    session.flush()
    offer = _offer(session, now, policy, person, exclude=_id(delivery))
    return Progress(
        delivery_id=_id(delivery),
        task_title=title_of(task),
        summary=Summary(title_of(task), tuple(lines)),
        offer=offer,
    )


def _finish(delivery: Delivery, now: datetime, status: DeliveryStatus) -> None:
    delivery.status = status.value
    delivery.finished_at = now
    delivery.ask_pending_since = None
    delivery.remind_at = None
    delivery.current_tries = 0


def _alerts(
    session: Session,
    now: datetime,
    policy: Policy,
    person: Person,
    task: Task,
    question: Question,
    answer: Answer,
    accepted: Accepted,
) -> tuple[AlertNotice, ...]:
    """The care team's alerts if the answer met its question's rule; the answer is then
    marked as having alerts to send, in its own transaction (see ``checkin.alerting``)."""
    if not question.alert_rule:
        return ()
    try:
        rule = parse_alert_rule(question.alert_rule, _rules(question))
    except ValueError:
        return ()  # a rule the question no longer supports (its type was edited): no alert
    if not alert_matches(rule, accepted):
        return ()
    notices = alert_notices(session, policy, person, task, question, answer)
    if notices:
        answer.alert_pending_since = now
    return notices
