"""The durable inbox: every update is stored before Telegram is told it arrived.

Telegram forgets an update once the next ``getUpdates`` offset (or a webhook's 200) confirms
it. So ``store`` commits each batch first, and only then is it confirmed; handlers run from
the stored rows (``claim``), one chat's updates in ``update_id`` order, and each row is marked
done in the transaction of its handler's first write (``mark_in``, through
``Database.first_commit_runs``) or, for a handler that writes nothing, in the transaction that
claims the worker's next batch (``claim``'s ``first``; on a stop, one of its own). After a kill -9
at any line every stored update is handled exactly once.

Several instances can share the table (PostgreSQL): ``claim`` takes the oldest pending row of
each chat, skipping rows another instance has locked or leased, so a chat's updates never run
out of order or twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    String,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlmodel import Session

from bot.frozen import frozen
from storage.db import Database, insert_skipping_conflicts
from storage.models import InboxState, InboxUpdate

_PENDING = InboxState.PENDING.value
_DONE = InboxState.DONE.value
# How far back a claim counts a chat's arrivals (``Item.arrivals``): the flood watch's minute.
ARRIVALS_WINDOW = timedelta(minutes=1)
_INBOX = InboxUpdate.__table__  # type: ignore[attr-defined]


class AlreadyHandled(Exception):
    """Another instance finished this update first (its claim had lapsed); roll back."""

    def __init__(self, update_id: int) -> None:
        super().__init__(update_id)
        self.update_id = update_id


@frozen
class Item:
    """A stored update to handle: its id and the JSON exactly as Telegram sent it."""

    update_id: int
    chat_id: int | None
    payload: str
    received_at: datetime
    # The chat's updates stored in the minute before the claim, up to this one: counted over
    # what every instance stored, where one process sees only the updates it was given.
    arrivals: int


# The kinds of update the bot asks for, and where each keeps its chat.
_CHAT_PATHS = (
    ("message", "chat"),
    ("edited_message", "chat"),
    ("callback_query", "message", "chat"),
)


def chat_of(update: Mapping[str, Any]) -> int | None:
    """The chat an update belongs to (the presser's own for a button on a lost message)."""
    for path in _CHAT_PATHS:
        node: Any = update
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and isinstance(node.get("id"), int):
            return int(node["id"])
    for kind in ("callback_query", "message", "edited_message"):
        body = update.get(kind)
        sender = body.get("from") if isinstance(body, Mapping) else None
        if isinstance(sender, Mapping) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def store(database: Database, now: datetime, updates: Sequence[Mapping[str, Any]]) -> None:
    """Store a batch in one transaction; an update already stored is kept as it is.

    Telegram redelivers the last unconfirmed batch after a crash, and a webhook call may come
    twice: the ``update_id`` key makes both harmless.
    """
    rows = [
        {
            "update_id": int(u["update_id"]),
            "chat_id": chat_of(u),
            "payload": json.dumps(u, ensure_ascii=False, separators=(",", ":")),
            "state": _PENDING,
            "received_at": now,
            "attempts": 0,
        }
        for u in updates
    ]
    if not rows:
        return
    with database.session() as session:
        statement = insert_skipping_conflicts(session, _INBOX, ["update_id"])
        session.connection().execute(statement, rows)
        session.commit()


def _claim_statement() -> Any:
    """The claim as one statement: a webhook's batch is mostly one update, so the three
    statements it took before (lock, lease, read) were three round trips for each answer."""
    row, older, held = _INBOX.c, _INBOX.alias("older").c, _INBOX.alias("held").c
    recent = _INBOX.alias("recent").c
    now: BindParameter[datetime] = bindparam("b_now")
    # Named in full: in RETURNING, SQLAlchemy writes columns without their table, and the
    # subquery's own would then compare with themselves (and count every chat's rows).
    claimed = _INBOX.name
    arrivals = (
        select(func.count())
        .where(
            recent.chat_id == literal_column(f"{claimed}.chat_id"),
            recent.received_at > bindparam("b_arrivals_since"),
            recent.update_id <= literal_column(f"{claimed}.update_id"),
        )
        .scalar_subquery()
    )
    picked = (
        select(row.update_id)
        .where(
            row.state == _PENDING,
            or_(row.lease_until.is_(None), row.lease_until < now),
            ~exists().where(
                and_(
                    older.state == _PENDING,
                    older.chat_id == row.chat_id,
                    older.update_id < row.update_id,
                )
            ),
            # A chat stays with the instance whose batch handled its last update until that
            # batch's closing write (or the lease's end, after a kill): see ``mark_in``. One
            # in a therapist's dialogue stays with the instance that holds its draft, which
            # alone may take it (``hold_chats``).
            ~exists().where(
                and_(
                    held.chat_id == row.chat_id,
                    held.lease_until.is_not(None),
                    held.lease_until >= now,
                    held.claimed_by != bindparam("b_dialogue_holder"),
                )
            ),
        )
        .order_by(row.update_id)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
        # Evaluated once: inlined into the UPDATE, PostgreSQL may run a LIMIT subquery more
        # than once and lease more rows than it locked and returned.
        .cte("picked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        update(_INBOX)
        .where(row.update_id.in_(select(picked.c.update_id)))
        .values(
            lease_until=bindparam("b_lease_until"),
            claimed_by=bindparam("b_instance_id"),
            attempts=row.attempts + 1,
        )
        .returning(
            row.update_id, row.chat_id, row.payload, row.received_at, arrivals.label("arrivals")
        )
    )


_CLAIM = _claim_statement()


def dialogue_holder(instance_id: str) -> str:
    """Who holds a chat for a therapist's dialogue: the instance, told apart from its batch's
    holds (which keep even it off the chat until the closing write). A dead instance's reads
    as its own to ``release_dead``: ``host:pid:random/dialogue``."""
    return f"{instance_id}/dialogue"


def claim(
    database: Database,
    now: datetime,
    instance_id: str,
    lease_seconds: float,
    limit: int,
    *,
    first: Callable[[Session], None] | None = None,
) -> list[Item]:
    """Lease the oldest pending update of up to ``limit`` chats, oldest first.

    A chat whose oldest pending update is leased by someone (or locked by another instance's
    claim in progress) is left alone entirely, so its later updates wait their turn.
    ``first`` runs in the same transaction before the claim: the worker finishes its last
    batch there, so the chats it frees are claimable at once. Each item counts its chat's
    updates stored in the ``ARRIVALS_WINDOW`` before ``now``, up to it.
    """
    with database.session() as session:
        if first is not None:
            first(session)
        rows = (
            session.connection()
            .execute(
                _CLAIM,
                {
                    "b_now": now,
                    "b_limit": limit,
                    "b_lease_until": now + timedelta(seconds=lease_seconds),
                    "b_instance_id": instance_id,
                    "b_dialogue_holder": dialogue_holder(instance_id),
                    "b_arrivals_since": now - ARRIVALS_WINDOW,
                },
            )
            .all()
        )
        session.commit()
    # RETURNING gives no order.
    items = [Item(r.update_id, r.chat_id, r.payload, r.received_at, r.arrivals) for r in rows]
    return sorted(items, key=lambda item: item.update_id)


# Built once: it runs inside every handler's first write (0.19 ms against 0.47 ms when the
# statement was built each time, measured on SQLite).
_MARK_DONE = (
    update(_INBOX)
    .where(_INBOX.c.update_id == bindparam("b_update_id"), _INBOX.c.state == _PENDING)
    .values(state=_DONE, handled_at=bindparam("b_now"))
)


def mark_in(session: Session, now: datetime, update_id: int) -> None:
    """Mark the update done inside the caller's transaction; refuse if it already is.

    Its lease stays: the chat's next update is not claimed (by any instance) until the batch's
    closing write lets go of it (``let_go_in``). The handler goes on after this commit (the
    reply, the next question), and what it sent is recorded only with that write; an instance
    that took the next update before it would judge the patient's answer against a question
    not yet recorded as asked.
    """
    result = session.connection().execute(_MARK_DONE, {"b_update_id": update_id, "b_now": now})
    if result.rowcount != 1:
        raise AlreadyHandled(update_id)


def finish_in(
    session: Session,
    now: datetime,
    update_ids: Iterable[int],
    *,
    unreadable: Iterable[int] = (),
    claimed_by: str | None = None,
) -> None:
    """Mark updates whose handlers wrote nothing done (and those that cannot be read as such),
    inside the caller's transaction; with ``claimed_by``, only the updates that instance still
    holds (one another instance took over after the lease is its to finish)."""
    connection = session.connection()
    for marked, marked_as in (
        (list(update_ids), InboxState.DONE),
        (list(unreadable), InboxState.UNREADABLE),
    ):
        if marked:
            statement = update(_INBOX).where(
                _INBOX.c.update_id.in_(marked), _INBOX.c.state == _PENDING
            )
            if claimed_by is not None:
                statement = statement.where(_INBOX.c.claimed_by == claimed_by)
            connection.execute(
                statement.values(state=marked_as.value, handled_at=now, lease_until=None)
            )


# Built once, as the mark is: it runs in nearly every batch's closing write.
_LET_GO = (
    update(_INBOX)
    .where(
        _INBOX.c.update_id.in_(bindparam("b_update_ids", expanding=True)),
        _INBOX.c.claimed_by == bindparam("b_instance_id"),
        _INBOX.c.lease_until.is_not(None),
        # An update still pending (its handler failed before its first write) keeps its
        # lease: it is handled again once that runs out, not in a loop while the cause lasts.
        _INBOX.c.state == _DONE,
    )
    .values(lease_until=None)
)


def let_go_in(
    session: Session,
    instance_id: str,
    update_ids: Iterable[int],
    *,
    keep: Iterable[int] = (),
    until: datetime | None = None,
    batch: Iterable[int] = (),
) -> None:
    """End the holds this instance keeps on handled updates (see ``mark_in``), inside the
    caller's transaction: the batch's closing write. Those in ``keep`` (of chats in a
    therapist's dialogue) are held ``until`` instead: see ``hold_chats``. The holds its
    dialogues kept on earlier updates of the ``batch``'s chats end: one update holds a chat,
    the newest, and none once its dialogue is over."""
    kept = set(keep) if until is not None else set()
    ids = [i for i in update_ids if i not in kept]
    if ids:
        session.connection().execute(_LET_GO, {"b_update_ids": ids, "b_instance_id": instance_id})
    everything = sorted({*ids, *kept, *batch})
    if everything:
        chats = select(_INBOX.c.chat_id).where(_INBOX.c.update_id.in_(everything))
        session.connection().execute(
            update(_INBOX)
            .where(
                _INBOX.c.claimed_by == dialogue_holder(instance_id),
                _INBOX.c.lease_until.is_not(None),
                _INBOX.c.chat_id.in_(chats.scalar_subquery()),
            )
            .values(lease_until=None)
        )
    if kept:
        session.connection().execute(
            update(_INBOX)
            .where(
                _INBOX.c.update_id.in_(sorted(kept)),
                _INBOX.c.claimed_by == instance_id,
                _INBOX.c.state == _DONE,
            )
            .values(lease_until=until, claimed_by=dialogue_holder(instance_id))
        )


def hold_chats(
    database: Database, now: datetime, instance_id: str, chat_ids: Iterable[int], until: datetime
) -> int:
    """Keep these chats with this instance ``until``: the updates that hold them for its
    dialogues (``let_go_in``'s ``keep``).

    A therapist's dialogue (/newtask, /edittask, /setconsent) keeps its draft in the memory of
    the instance that runs it, so the chat's next update must come to that instance; no other
    claims it while the hold lasts (``claim``). The instance renews it while the draft lives
    (``Receiver``); dead, its holds run out within one hold, and the next instance answers as
    after a restart (the draft is gone). A hold that ran out stays out: another instance may
    have taken the chat meanwhile. Returns how many updates hold the chats.
    """
    chats = sorted(set(chat_ids))
    if not chats:
        return 0
    with database.session() as session:
        result = session.connection().execute(
            update(_INBOX)
            .where(
                _INBOX.c.chat_id.in_(chats),
                _INBOX.c.claimed_by == dialogue_holder(instance_id),
                _INBOX.c.lease_until >= now,
            )
            .values(lease_until=until)
        )
        session.commit()
        return max(result.rowcount, 0)


def renew(
    database: Database,
    now: datetime,
    instance_id: str,
    lease_seconds: float,
    update_ids: Iterable[int],
) -> int:
    """Push this instance's leases on the updates named ``lease_seconds`` past ``now``.

    The lease stays short (a dead instance's updates pass on within seconds, whatever host
    takes them) only because the living renew theirs while a batch is handled; an update
    already handled is renewed too, as it holds its chat until the batch ends (``mark_in``).
    An update let go of, given back, or taken over by another instance since is left as it is.
    """
    ids = list(update_ids)
    if not ids:
        return 0
    with database.session() as session:
        result = session.connection().execute(
            update(_INBOX)
            .where(
                _INBOX.c.update_id.in_(ids),
                _INBOX.c.claimed_by == instance_id,
                _INBOX.c.lease_until.is_not(None),
            )
            .values(lease_until=now + timedelta(seconds=lease_seconds))
        )
        session.commit()
        return max(result.rowcount, 0)


def release(database: Database, instance_id: str, update_ids: Iterable[int] = ()) -> int:
    """Give back this instance's leases (all, or the ones named) so they are handled now,
    and the holds on its chats (``mark_in``, and its dialogues') with them."""
    ids = list(update_ids)
    with database.session() as session:
        statement = update(_INBOX).where(
            _INBOX.c.claimed_by.in_([instance_id, dialogue_holder(instance_id)]),
            _INBOX.c.lease_until.is_not(None),
        )
        if ids:
            statement = statement.where(_INBOX.c.update_id.in_(ids))
        result = session.connection().execute(statement.values(lease_until=None))
        session.commit()
        return max(result.rowcount, 0)


def release_dead(
    database: Database,
    host: str,
    *,
    instance_id: str,
    alive: Callable[[int], bool] = lambda pid: process_alive(pid),
) -> int:
    """Give back leases held by earlier processes that are gone (a kill -9).

    Their rows would otherwise wait out the lease, and so would the chats they held
    (``mark_in``). An instance id is ``host:pid:random``: a claim from this host whose pid no
    longer runs (or is our own pid with another random part, a restarted container's PID 1) is
    from a process that cannot finish it (``dead_holders``). Returns how many unhandled updates
    it took back.
    """
    with database.session() as session:
        holders = session.execute(
            select(_INBOX.c.claimed_by).where(_INBOX.c.lease_until.is_not(None)).distinct()
        ).scalars()
        dead = dead_holders(database, holders, host, instance_id, alive)
        if not dead:
            return 0
        result = session.connection().execute(
            update(_INBOX)
            .where(_INBOX.c.claimed_by.in_(dead), _INBOX.c.lease_until.is_not(None))
            .values(lease_until=None)
            .returning(_INBOX.c.state)
        )
        taken_back = sum(1 for state in result.scalars() if state == _PENDING)
        session.commit()
        return taken_back


def dead_holders(
    database: Database,
    holders: Iterable[str | None],
    host: str,
    instance_id: str,
    alive: Callable[[int], bool],
) -> list[str]:
    """Of the instance ids holding claims (the inbox's or the deliveries'), those of processes
    that are gone. When this process holds its SQLite database alone, every one but its own
    (and its dialogues' holds): no other bot runs on it, whatever host name (a container made
    afresh) or pid (reused after a reboot) a claim names. Otherwise those of this host whose
    process is gone (``dead_instances``); another host's may be alive."""
    own = {instance_id, dialogue_holder(instance_id)}
    others = [holder for holder in holders if holder and holder not in own]
    if database.held_alone:
        return others
    return dead_instances([h for h in others if h.startswith(f"{host}:")], alive)


def dead_instances(
    holders: Iterable[str], alive: Callable[[int], bool] = lambda pid: process_alive(pid)
) -> list[str]:
    """Of these instance ids (``host:pid:random``, all of this host), the ones whose process is
    gone: its pid no longer runs, or it is our own pid with another random part (a restarted
    container's PID 1)."""
    own_pid = os.getpid()
    dead = []
    for holder in holders:
        _host, _sep, rest = holder.partition(":")
        pid_text = rest.partition(":")[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        # Our own pid is a predecessor's only as a container's PID 1 restarted; elsewhere it
        # is another Application in this very process (tests run two), alive and claiming.
        if (pid == own_pid == 1) or (pid != own_pid and not alive(pid)):
            dead.append(holder)
    return dead


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def purge(database: Database, before: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` finished rows handled before ``before``, oldest first."""
    with database.session() as session:
        oldest = (
            select(_INBOX.c.update_id)
            .where(_INBOX.c.state != _PENDING, _INBOX.c.handled_at < before)
            .order_by(_INBOX.c.handled_at)
            .limit(batch_size)
        )
        ids = list(session.execute(oldest).scalars())
        if not ids:
            return 0
        session.connection().execute(delete(_INBOX).where(_INBOX.c.update_id.in_(ids)))
        session.commit()
        return len(ids)


@frozen
class Backlog:
    pending: int
    oldest_received_at: datetime | None


def backlog(database: Database) -> Backlog:
    """How many updates wait to be handled, and since when (health, logs)."""
    with database.read_session() as session:
        row = session.execute(
            select(func.count(), func.min(_INBOX.c.received_at)).where(_INBOX.c.state == _PENDING)
        ).one()
        return Backlog(int(row[0]), row[1])


def scrub(session: Session, chat_ids: Iterable[int], mentions: Iterable[str]) -> int:
    """Empty the stored updates of an erased person, in the caller's transaction.

    Every update of their chats, handled or still pending, keeps only its ``update_id``: a
    redelivery of it is still recognised as handled, and a pending one (sent while the data
    was being erased) is handled as an empty update, which no handler takes. Handled updates of
    other chats that contain one of ``mentions`` (the user id, the names: a therapist's
    ``/chart NAME`` or ``/removepatient GROUP ID``) are emptied too; one that contains them only
    by chance loses a handled payload, which nothing reads. Returns how many were emptied.
    """
    bare = literal('{"update_id": ') + cast(_INBOX.c.update_id, String(20)) + literal("}")
    connection = session.connection()
    emptied = connection.execute(
        update(_INBOX)
        .where(_INBOX.c.chat_id.in_(list(chat_ids)))
        .values(payload=bare, chat_id=None)
    ).rowcount
    # As ``store`` wrote them: a quote or a backslash in a name is escaped in the payload.
    forms = {json.dumps(m, ensure_ascii=False)[1:-1] for m in mentions if m}
    if forms:
        payload, lowered = _INBOX.c.payload, func.lower(_INBOX.c.payload)
        found = [payload.contains(form, autoescape=True) for form in forms]
        # Case aside, as a therapist types a name (SQLite's lower() folds ASCII letters only).
        found += [lowered.contains(form.lower(), autoescape=True) for form in forms]
        emptied += connection.execute(
            update(_INBOX)
            .where(_INBOX.c.state != _PENDING, _INBOX.c.payload != bare, or_(*found))
            .values(payload=bare, chat_id=None)
        ).rowcount
    return int(emptied)
