"""The inbox on both databases: stored once, claimed in order per chat, marked done once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.receiver import strip_nul
from bot.services import inbox
from storage.db import Database
from storage.models import InboxState, InboxUpdate, TherapyGroup

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEASE = 30.0


def message(update_id: int, chat_id: int, text: str = "hello") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1795597200,
            "chat": {"id": chat_id, "type": "private", "first_name": "P"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "P"},
            "text": text,
        },
    }


def states(database: Database) -> dict[int, str]:
    with database.session() as session:
        rows = session.execute(select(InboxUpdate.update_id, InboxUpdate.state)).all()  # type: ignore[call-overload]
        return {row.update_id: row.state for row in rows}


def claimed(database: Database, at: datetime = NOW, who: str = "a:1:x") -> list[int]:
    return [item.update_id for item in inbox.claim(database, at, who, LEASE, 100)]


def finish(database: Database, now: datetime, update_ids: list[int]) -> None:
    """What the batch's closing write does to updates whose handlers wrote nothing."""
    with database.session() as session:
        inbox.finish_in(session, now, update_ids)
        session.commit()


def test_an_update_stored_twice_is_kept_once_as_it_first_came(database: Database) -> None:
    inbox.store(database, NOW, [message(1, 10, "first")])
    inbox.store(database, NOW, [message(1, 10, "again"), message(2, 10)])

    items = inbox.claim(database, NOW, "a:1:x", LEASE, 100)
    assert [i.update_id for i in items] == [1]
    assert '"first"' in items[0].payload
    assert set(states(database)) == {1, 2}


def test_text_telegram_allows_but_postgresql_refuses_is_stored(database: Database) -> None:
    inbox.store(database, NOW, [message(1, 10, "pain\x00 7 — ünïcode")])

    (item,) = inbox.claim(database, NOW, "a:1:x", LEASE, 100)
    assert strip_nul(json.loads(item.payload))["message"]["text"] == ("pain 7 — ünïcode")


def test_one_chat_waits_for_its_oldest_update_while_other_chats_go_on(
    database: Database,
) -> None:
    inbox.store(database, NOW, [message(1, 10), message(2, 10), message(3, 20)])

    assert claimed(database) == [1, 3]
    # 1 and 3 are leased: nothing else may start, 2 least of all (it must follow 1).
    assert claimed(database, who="b:2:y") == []
    finish(database, NOW, [1])
    assert claimed(database, who="b:2:y") == [2]


def test_a_lapsed_lease_lets_another_instance_take_the_update(database: Database) -> None:
    inbox.store(database, NOW, [message(1, 10)])
    assert claimed(database) == [1]

    assert claimed(database, NOW + timedelta(seconds=LEASE - 1), "b:2:y") == []
    assert claimed(database, NOW + timedelta(seconds=LEASE + 1), "b:2:y") == [1]


def test_finishing_late_leaves_an_update_another_instance_took_over(database: Database) -> None:
    """A worker whose closing write was held up past its lease marks only what it still
    holds: the update another instance claimed is that instance's to finish, and its chat's
    next update waits for it."""
    inbox.store(database, NOW, [message(1, 10), message(2, 20), message(3, 10)])
    assert claimed(database, who="a:1:x") == [1, 2]
    assert claimed(database, NOW + timedelta(seconds=LEASE + 1), "b:2:y") == [1, 2]
    assert claimed(database, NOW, "a:1:x") == []

    def late(session: Session) -> None:
        inbox.finish_in(session, NOW, [1], claimed_by="a:1:x")

    # a's next claim carries the late write: chat 10's next update is still not a's to take.
    later = NOW + timedelta(seconds=LEASE + 2)
    assert inbox.claim(database, later, "a:1:x", LEASE, 10, first=late) == []
    assert states(database) == {1: "pending", 2: "pending", 3: "pending"}


def mark_done(database: Database, *update_ids: int) -> None:
    """What each handler's first commit does to its update."""
    for update_id in update_ids:
        with database.session() as session:
            inbox.mark_in(session, NOW, update_id)
            session.commit()


def test_a_chat_stays_with_the_batch_that_handled_it_until_that_batch_lets_go(
    database: Database,
) -> None:
    """A handler's commit marks its update done while the handler goes on (its reply, the
    next question, recorded only with the batch's closing write): the chat's next update is
    nobody else's until that write, or until the lease runs out after a kill."""
    inbox.store(database, NOW, [message(1, 10), message(2, 20)])
    assert claimed(database) == [1, 2]
    mark_done(database, 1, 2)
    inbox.store(database, NOW, [message(3, 10), message(4, 20)])
    assert claimed(database, who="b:2:y") == [], "a's batch has not let go of the chats"

    # The batch goes on (a reply waits for Telegram): its renewals keep the holds too.
    renewed_at = NOW + timedelta(seconds=LEASE - 1)
    assert inbox.renew(database, renewed_at, "a:1:x", LEASE, [1, 2]) == 2
    assert claimed(database, NOW + timedelta(seconds=LEASE + 1), "b:2:y") == []

    # The closing write, with a's next claim, lets go of chat 10: a takes its next update.
    def closing(session: Session) -> None:
        inbox.let_go_in(session, "a:1:x", [1])

    closing_at = renewed_at + timedelta(seconds=LEASE / 2)
    items = inbox.claim(database, closing_at, "a:1:x", LEASE, 100, first=closing)
    assert [item.update_id for item in items] == [3], "chat 20 is still held by update 2"
    # a is killed before it lets go of chat 20: the chat passes on once the lease runs out.
    lapsed = renewed_at + timedelta(seconds=LEASE + 1)
    assert claimed(database, lapsed, "b:2:y") == [4]
    assert states(database) == {1: "done", 2: "done", 3: "pending", 4: "pending"}


def test_a_chat_in_a_dialogue_stays_with_its_holder_while_the_hold_lasts(
    database: Database,
) -> None:
    """a handled a therapist's /newtask (chat 10) and a patient's answer (chat 20); its
    closing write keeps chat 10 for the dialogue. b takes chat 20's next update, not chat
    10's, which a takes. Each closing write moves the hold to the chat's newest update. a's
    renewals keep the chat past the first hold; a hold that ran out stays out; a dead, the
    chat passes on when the last renewal runs out."""
    hold = timedelta(seconds=30)

    def closing(who: str, handled: list[int], keep: list[int], at: datetime = NOW) -> Any:
        def write(session: Session) -> None:
            inbox.let_go_in(session, who, handled, keep=keep, until=at + hold)

        return write

    def held() -> list[int]:
        with database.session() as session:
            found = session.execute(
                select(InboxUpdate.update_id).where(  # type: ignore[call-overload]
                    col(InboxUpdate.lease_until).is_not(None)
                )
            )
            return sorted(found.scalars())

    inbox.store(database, NOW, [message(1, 10), message(2, 20)])
    assert claimed(database) == [1, 2]
    mark_done(database, 1, 2)
    assert (
        inbox.claim(database, NOW, "a:1:x", LEASE, 100, first=closing("a:1:x", [1, 2], [1])) == []
    )
    assert held() == [1]
    inbox.store(database, NOW, [message(3, 10), message(4, 20)])

    assert claimed(database, who="b:2:y") == [4], "b took a step of a's dialogue"
    assert claimed(database, who="a:1:x") == [3]
    mark_done(database, 3, 4)
    with database.session() as session:
        closing("a:1:x", [3], [3])(session)
        closing("b:2:y", [4], [])(session)
        session.commit()
    assert held() == [3], "one update holds the chat: its newest"
    inbox.store(database, NOW, [message(5, 10)])

    renewed_at = NOW + hold - timedelta(seconds=1)
    assert inbox.hold_chats(database, renewed_at, "a:1:x", [10], renewed_at + hold) == 1
    assert claimed(database, NOW + hold + timedelta(seconds=1), "b:2:y") == []
    lapsed = renewed_at + hold + timedelta(seconds=1)
    assert inbox.hold_chats(database, lapsed, "a:1:x", [10], lapsed + hold) == 0
    assert claimed(database, lapsed, "b:2:y") == [5]


def test_a_stop_gives_back_its_holds_with_its_leases(database: Database) -> None:
    """A stop whose closing write could not be written (``release`` comes after it): the
    chats it held pass on at once, not a lease later."""
    inbox.store(database, NOW, [message(1, 10), message(2, 20)])
    assert claimed(database) == [1, 2]
    mark_done(database, 1)  # 2 stays in hand, its handler never wrote
    inbox.store(database, NOW, [message(3, 10)])
    assert claimed(database, who="b:2:y") == []

    assert inbox.release(database, "a:1:x") == 2

    assert claimed(database, who="b:2:y") == [2, 3]


def test_renewing_keeps_only_this_instances_updates_in_hand(database: Database) -> None:
    inbox.store(database, NOW, [message(n, 10 * n) for n in range(1, 6)])
    assert claimed(database, who="a:1:x") == [1, 2, 3, 4, 5]
    inbox.release(database, "a:1:x", [3])  # given back: handled by whoever comes first
    finish(database, NOW, [2])  # finished: nobody's any more
    inbox.store(database, NOW, [message(6, 60)])
    assert claimed(database, who="b:2:y") == [3, 6]
    inbox.release(database, "a:1:x", [5])  # given back, and leased by nobody since

    later = NOW + timedelta(seconds=LEASE - 1)
    # a's batch names all it claimed; 4 is not in it (left to its lease after a failure).
    assert inbox.renew(database, later, "a:1:x", LEASE, [1, 2, 3, 5]) == 1

    lapsed = NOW + timedelta(seconds=LEASE + 1)
    assert claimed(database, lapsed, "c:3:z") == [3, 4, 5, 6], "only 1 was renewed"
    assert claimed(database, later + timedelta(seconds=LEASE + 1), "c:3:z") == [1]


def test_the_handlers_first_write_marks_the_update_done_in_its_own_transaction(
    database: Database,
) -> None:
    inbox.store(database, NOW, [message(1, 10)])
    claimed(database)

    with database.first_commit_runs(lambda s: inbox.mark_in(s, NOW, 1)) as first:
        with database.session() as session:
            session.add(TherapyGroup(name="Written by the handler", created_at=NOW))
            session.commit()
        with database.session() as session:  # a second write marks nothing again
            session.add(TherapyGroup(name="Second write", created_at=NOW))
            session.commit()

    assert first.committed
    assert states(database) == {1: InboxState.DONE.value}


def test_a_handler_finishing_an_update_someone_else_finished_writes_nothing(
    database: Database,
) -> None:
    inbox.store(database, NOW, [message(1, 10)])
    finish(database, NOW, [1])  # another instance, after our lease had lapsed

    with (
        database.first_commit_runs(lambda s: inbox.mark_in(s, NOW, 1)),
        database.session() as session,
    ):
        session.add(TherapyGroup(name="Twice", created_at=NOW))
        with pytest.raises(inbox.AlreadyHandled):
            session.commit()

    with database.session() as session:
        assert session.execute(select(func.count()).select_from(TherapyGroup)).scalar() == 0


def test_a_read_only_session_marks_nothing(database: Database) -> None:
    inbox.store(database, NOW, [message(1, 10)])

    with (
        database.first_commit_runs(lambda s: inbox.mark_in(s, NOW, 1)) as first,
        database.read_session() as session,
    ):
        session.execute(select(func.count()).select_from(TherapyGroup)).scalar()

    assert not first.committed
    assert states(database) == {1: InboxState.PENDING.value}


def test_purge_deletes_old_handled_rows_in_batches_and_keeps_pending_ones(
    database: Database,
) -> None:
    old = NOW - timedelta(days=8)
    inbox.store(database, old, [message(i, 10 + i) for i in range(1, 6)])
    finish(database, old, [1, 2, 3])
    inbox.store(database, NOW, [message(6, 99)])
    finish(database, NOW, [6])

    assert inbox.purge(database, NOW - timedelta(days=7), batch_size=2) == 2
    assert inbox.purge(database, NOW - timedelta(days=7), batch_size=2) == 1
    assert inbox.purge(database, NOW - timedelta(days=7), batch_size=2) == 0
    assert set(states(database)) == {4, 5, 6}


def test_claims_of_a_dead_process_on_this_host_are_given_back(database: Database) -> None:
    inbox.store(database, NOW, [message(1, 10), message(2, 20), message(3, 30)])
    inbox.store(database, NOW, [message(4, 40), message(5, 40)])
    inbox.claim(database, NOW, "here:4242:dead", LEASE, 1)
    inbox.claim(database, NOW, "here:4343:alive", LEASE, 1)
    inbox.claim(database, NOW, "elsewhere:4242:x", LEASE, 1)
    inbox.claim(database, NOW, "here:4242:dead", LEASE, 1)
    mark_done(database, 4)  # handled, its batch never closed: chat 40 held by the dead

    released = inbox.release_dead(
        database, "here", instance_id="here:1:new", alive=lambda pid: pid == 4343
    )

    assert released == 1, "one unhandled update taken back; chat 40's hold ended too"
    assert claimed(database, who="here:1:new") == [1, 5]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_process_holding_its_sqlite_file_alone_takes_back_every_claim_but_its_own(
    database: Database, backend: str
) -> None:
    """No other bot can run on a file this process holds (``Database.hold_alone``): a claim of
    another host (a container made afresh) is a dead one's, and so is one of this host whose
    pid runs again (reused after a reboot). Its own claims, and its dialogues' holds, stay."""
    me = "here:4343:me"
    inbox.store(database, NOW, [message(n, 10 * n) for n in range(1, 5)])
    inbox.claim(database, NOW, "old-container:1:x", LEASE, 1)
    inbox.claim(database, NOW, "here:4242:reused", LEASE, 1)
    inbox.claim(database, NOW, me, LEASE, 1)
    inbox.claim(database, NOW, f"{me}/dialogue", LEASE, 1)
    database.hold_alone()
    try:
        released = inbox.release_dead(database, "here", instance_id=me, alive=lambda pid: True)
    finally:
        database.let_go_alone()

    assert released == 2
    assert claimed(database, who="here:1:new") == [1, 2]
    assert not database.held_alone


def test_a_dead_process_on_this_host_lets_go_of_its_dialogues_chats(database: Database) -> None:
    """A kill -9 during a therapist's dialogue: the restarted process (a new pid) takes the
    chat back at once, not a hold later, as it does the dead one's other claims."""
    inbox.store(database, NOW, [message(1, 10)])
    assert claimed(database, who="here:4242:dead") == [1]
    mark_done(database, 1)
    with database.session() as session:
        inbox.let_go_in(
            session, "here:4242:dead", [1], keep=[1], until=NOW + timedelta(seconds=30)
        )
        session.commit()
    inbox.store(database, NOW, [message(2, 10)])
    assert claimed(database, who="here:1:new") == [], "held for the dead one's dialogue"

    inbox.release_dead(database, "here", instance_id="here:1:new", alive=lambda pid: False)

    assert claimed(database, who="here:1:new") == [2]


def test_concurrent_claims_take_each_update_once_and_each_chat_in_order(
    database: Database,
) -> None:
    chats, per_chat = 20, 10
    updates = [message(n * chats + c + 1, 1000 + c) for n in range(per_chat) for c in range(chats)]
    inbox.store(database, NOW, updates)
    taken: list[int] = []
    finishing: set[int] = set()
    out_of_order: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def same_chat_before(update_id: int) -> range:
        return range((update_id - 1) % chats + 1, update_id, chats)

    def worker(name: str) -> None:
        try:
            idle = 0
            while idle < 20:
                items = inbox.claim(database, NOW, name, LEASE, 5)
                idle = 0 if items else idle + 1
                with lock:
                    for item in items:
                        taken.append(item.update_id)
                        if not set(same_chat_before(item.update_id)) <= finishing:
                            out_of_order.append(item.update_id)
                    # Noted before the commit: no one can claim the next one before it.
                    finishing.update(i.update_id for i in items)
                finish(database, NOW, [i.update_id for i in items])
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"h:{n}:t",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert sorted(taken) == sorted(u["update_id"] for u in updates)  # each exactly once
    assert out_of_order == []
    assert set(states(database).values()) == {InboxState.DONE.value}


def test_the_chat_of_each_kind_of_update() -> None:
    press = {
        "update_id": 5,
        "callback_query": {
            "id": "1",
            "from": {"id": 77, "is_bot": False, "first_name": "P"},
            "chat_instance": "c",
            "data": "x",
        },
    }
    assert inbox.chat_of(message(1, 10)) == 10
    assert inbox.chat_of({"update_id": 2, "edited_message": message(2, 11)["message"]}) == 11
    assert inbox.chat_of(press) == 77  # a press on a message Telegram no longer sends
    assert inbox.chat_of({"update_id": 3, "poll": {"id": "p"}}) is None


def test_scrub_empties_a_chat_and_the_handled_updates_that_mention_the_person(
    database: Database,
) -> None:
    erased, therapist, bystander = 7_351_924_680, 9001, 4242
    inbox.store(
        database,
        NOW,
        [
            message(1, erased, "my knee"),  # handled below
            message(2, therapist, "/chart zephyrine o'NEIL"),  # handled, the name in another case
            message(3, therapist, f"/removepatient Knees {erased}"),  # handled, the id
            message(4, bystander, "Zoë"),  # handled, another person
            message(5, erased, "sent while erasing"),  # still pending
            message(6, therapist, "/chart Zephyrine"),  # pending: handled soon, then purged
        ],
    )
    finish(database, NOW, [1, 2, 3, 4])

    with database.session() as session:
        emptied = inbox.scrub(session, [erased], [str(erased), "Zephyrine", "O'Neil"])
        session.commit()

    assert emptied == 4
    with database.session() as session:
        rows = session.execute(
            select(
                InboxUpdate.update_id, InboxUpdate.chat_id, InboxUpdate.payload, InboxUpdate.state
            )  # type: ignore[call-overload]
        ).all()
    found = {r.update_id: (r.chat_id, json.loads(r.payload), r.state) for r in rows}
    bare = {n: (None, {"update_id": n}, found[n][2]) for n in (1, 2, 3, 5)}
    assert {n: found[n] for n in (1, 2, 3, 5)} == bare
    assert found[5][2] == "pending", "handled as an empty update, in its turn"
    assert found[4][0] == bystander and found[6][0] == therapist
    # A redelivered update of the erased chat is still known: stored once, never again.
    inbox.store(database, NOW, [message(1, erased, "my knee")])
    with database.session() as session:
        (payload,) = session.execute(
            select(InboxUpdate.payload).where(InboxUpdate.update_id == 1)  # type: ignore[call-overload]
        ).one()
    assert payload == '{"update_id": 1}'
