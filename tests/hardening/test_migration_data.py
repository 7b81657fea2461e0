"""Migrations 0003 to 0006 keep every row: a filled database goes up, down and up again.

The data is written with plain SQL through tables reflected from the database itself, as it
stood at the previous revision, so the test never leans on today's models. Every table is
dumped in full (every column of every row, as the driver returns it) before and after each
step, and the dumps are compared.

The one documented normalisation of the downgrade: a name whose only space was its last
character ("Trailing ") comes back without it, because "Trailing" + "" joins to "Trailing".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import select

from bot.cli import main
from storage.db import Database, downgrade, head_revision, make_engine, upgrade
from storage.models import Person

PREVIOUS = "0002"
THIS = "0003"
TABLES = (
    "groups",
    "people",
    "invites",
    "memberships",
    "tasks",
    "questions",
    "deliveries",
    "answers",
)
# Stored naive, as UTCDateTime does.
T0 = datetime(2026, 11, 20, 9, 0)

NAMES = [
    "Alice",  # one word
    "Bob Baker",  # two
    "Mary Ann Smith",  # three: the first space splits
    "",  # a patient who erased their data
    "Zoë Ångström",
    "José María García-López",
    "李 小龙",
    "Ольга Петрова",
    "🙂 Smiley Face",
    "Double  Space",  # the last name keeps its leading space
    " Leading",  # empty first name, nothing trimmed
    "Trailing ",  # the documented case: comes back as "Trailing"
    "Theo Therapist",
    "A" * 100 + " " + "B" * 99,  # 200 characters, the old column's limit
]
NORMALISED = {"Trailing ": "Trailing"}
STATUSES = (
    "pending",
    "sending",
    "sent",
    "in_progress",
    "completed",
    "skipped",
    "expired",
    "failed",
    "cancelled",
)


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    upgrade(empty_url, PREVIOUS)
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def reflect(engine: Engine) -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(engine, only=list(TABLES))
    return dict(metadata.tables)


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, every column, as the driver hands it over (no type layer)."""
    dumped: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in TABLES:
            rows = connection.exec_driver_sql(f'SELECT * FROM "{table}" ORDER BY id').mappings()
            dumped[table] = [dict(row) for row in rows]
    return dumped


def split_at_first_space(name: str) -> tuple[str, str]:
    """The rule the migration promises, written out again on the test's side."""
    at = name.find(" ")
    return (name, "") if at < 0 else (name[:at], name[at + 1 :])


def fill(engine: Engine) -> dict[str, int]:
    """A realistic database at 0002: every status, every response type, awkward names."""
    t = reflect(engine)
    people = [
        {
            "id": n,
            "telegram_user_id": 5_000_000_000 + n,  # beyond 32 bits, as real ids are
            "chat_id": 5_000_000_000 + n,
            "name": name,
            "role": "therapist" if name == "Theo Therapist" else "patient",
            "timezone": ["Europe/London", None, "America/New_York", "Asia/Tokyo"][n % 4],
            "quiet_start": clock_time(21, 0) if n % 3 == 0 else None,
            "quiet_end": clock_time(8, 0) if n % 3 == 0 else None,
            "opted_out": n % 5 == 0,
            "unreachable": n % 7 == 0,
            "data_deleted_at": T0 if name == "" else None,
            "created_at": T0 + timedelta(minutes=n),
            "last_answer_message_id": 1000 + n if n % 2 else None,
        }
        for n, name in enumerate(NAMES, 1)
    ]
    therapist_id = next(p["id"] for p in people if p["role"] == "therapist")
    patients = [p["id"] for p in people if p["role"] == "patient"]
    groups = [
        {"id": 1, "name": "Shoulder Therapy 1", "timezone": "Europe/London", "created_at": T0},
        {"id": 2, "name": "Hüfte – Gruppe 2", "timezone": None, "created_at": T0},
    ]
    invites = [
        {
            "id": 1,
            "code": "SHOULDER1",
            "group_id": 1,
            "expires_at": T0 + timedelta(days=14),
            "max_uses": None,
            "uses": 9,
            "revoked_at": None,
            "created_at": T0,
        },
        {
            "id": 2,
            "code": "HIP1",
            "group_id": 2,
            "expires_at": None,
            "max_uses": 5,
            "uses": 5,
            "revoked_at": T0 + timedelta(days=1),
            "created_at": T0,
        },
    ]
    memberships = [
        {
            "id": i,
            "group_id": 1 + i % 2,
            "person_id": pid,
            "role": "patient",
            "joined_at": T0 + timedelta(hours=i),
        }
        for i, pid in enumerate(patients, 1)
    ]
    memberships.append(
        {
            "id": len(memberships) + 1,
            "group_id": 1,
            "person_id": therapist_id,
            "role": "therapist",
            "joined_at": T0,
        }
    )
    tasks = [
        {
            "id": 1,
            "group_id": 1,
            "title": "Perform 20 Press-Ups",
            "due_date": date(2026, 11, 20),
            "due_time": clock_time(11, 0),
            "recurrence": "FREQ=DAILY;COUNT=14",
            "expiry_minutes": 1440,
            "deleted_at": None,
            "created_at": T0,
        },
        {
            "id": 2,
            "group_id": 2,
            "title": "Hip <mobility> & stretch",
            "due_date": date(2026, 11, 21),
            "due_time": clock_time(18, 30),
            "recurrence": None,
            "expiry_minutes": 90,
            "deleted_at": T0 + timedelta(days=2),
            "created_at": T0,
        },
    ]
    kinds = [
        ("text", None, None, None, False, 500, "contains:pain"),
        ("number", None, 0.0, 200.0, True, None, ">50"),
        ("yes_no", None, None, None, False, None, "=no"),
        ("scale", None, 0.0, 10.0, True, None, ">=8"),
        ("choice", ["Easy", "OK", "Hard – stopped"], None, None, False, None, None),
        ("photo", None, None, None, False, None, None),
        ("video", None, None, None, False, None, None),
    ]
    questions = [
        {
            "id": q,
            "task_id": 1 + q % 2,
            "position": q,
            "description": f"Question {q}: how did it go? ({kind})",
            "link": "https://example.org/video?id=1&t=2" if q == 1 else None,
            "response_type": kind,
            "options": options,
            "min_value": low,
            "max_value": high,
            "integer_only": whole,
            "max_length": length,
            "required": q != 7,
            "alert_rule": rule,
            "removed_at": T0 + timedelta(days=3) if q == 6 else None,
        }
        for q, (kind, options, low, high, whole, length, rule) in enumerate(kinds, 1)
    ]
    deliveries = []
    for i, status in enumerate(STATUSES * 2, 1):
        due = T0 + timedelta(days=i // 9, minutes=i)
        deliveries.append(
            {
                "id": i,
                "task_id": 1 + i % 2,
                "person_id": patients[i % len(patients)],
                "due_at": due,
                "expires_at": due + timedelta(days=1),
                "status": status,
                "current_position": 2 if status == "in_progress" else None,
                "current_tries": 1 if status == "in_progress" else 0,
                "sent_at": due if status not in ("pending", "sending") else None,
                "started_at": due + timedelta(minutes=5) if status == "in_progress" else None,
                "finished_at": due + timedelta(hours=1) if status in STATUSES[4:] else None,
                "remind_at": due + timedelta(hours=1) if status == "sent" else None,
                "reminders_sent": 1 if status == "sent" else 0,
                "lease_until": due + timedelta(minutes=2) if status == "sending" else None,
                "claimed_by": "host:42:abc123" if status == "sending" else None,
                "send_attempts": 1 if status != "pending" else 0,
                "prompt_message_id": 7_000_000_000 + i if status != "pending" else None,
                "last_error": "Forbidden: bot was blocked by the user"
                if status == "failed"
                else None,
            }
        )
    values = [
        ("I did them all, some pain in the left shoulder", None, None, None, False),
        ("42", 42.0, None, None, False),
        ("No", None, False, None, False),
        ("7", 7.0, None, None, False),
        ("Hard – stopped", None, None, None, False),
        ("photo", None, None, "AgACAgQAAxkBAAIBZ2VmX3Bob3RvX2lk", False),
        ("", None, None, None, True),  # skipped
        ("video", None, None, "BAACAgQAAxkBAAIBaGVmX3ZpZGVvX2lk", False),
        ("😀 ünïcödé <b>not html</b>", None, None, None, False),
        ("Yes", None, True, None, False),
        ("-3.5", -3.5, None, None, False),
    ]
    answers = []
    answered = [d for d in deliveries if d["status"] in ("in_progress", "completed", "skipped")]
    for d in answered:
        for q in questions:
            if q["task_id"] != d["task_id"]:
                continue
            text, number, boolean, file_id, skipped = values[len(answers) % len(values)]
            answers.append(
                {
                    "id": len(answers) + 1,
                    "delivery_id": d["id"],
                    "question_id": q["id"],
                    "value_text": text,
                    "value_number": number,
                    "value_bool": boolean,
                    "file_id": file_id,
                    "skipped": skipped,
                    "answered_at": d["due_at"] + timedelta(minutes=q["position"]),
                }
            )
    rows = {
        "groups": groups,
        "people": people,
        "invites": invites,
        "memberships": memberships,
        "tasks": tasks,
        "questions": questions,
        "deliveries": deliveries,
        "answers": answers,
    }
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(t[table].insert(), rows[table])
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; the bot must still insert afterwards.
            for table in TABLES:
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'(SELECT max(id) FROM "{table}"))'
                )
    return {table: len(rows[table]) for table in TABLES}


def without(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def current_revision(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar())


def check_upgraded(before: dict[str, list[dict[str, Any]]], after: dict[str, Any]) -> int:
    """Assert the upgraded dump is the old one with names split; return the rows checked."""
    for table in TABLES:
        if table != "people":
            assert after[table] == before[table], f"{table} changed"
    old_people = {row["id"]: row for row in before["people"]}
    new_people = {row["id"]: row for row in after["people"]}
    assert old_people.keys() == new_people.keys()
    for pid, old in old_people.items():
        new = new_people[pid]
        assert (new["first_name"], new["last_name"]) == split_at_first_space(old["name"]), old
        assert new["language_code"] == "en"
        assert without([new], "first_name", "last_name", "language_code") == without([old], "name")
    return sum(len(rows) for rows in after.values())


def test_names_split_and_every_row_survives_upgrade_downgrade_and_upgrade_again(
    engine: Engine,
    empty_url: str,
    backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    counts = fill(engine)
    original = dump(engine)
    assert {t: len(rows) for t, rows in original.items()} == counts
    assert {row["status"] for row in original["deliveries"]} == set(STATUSES)

    upgrade(empty_url, THIS)
    assert current_revision(engine) == THIS
    first_up = dump(engine)
    checked = check_upgraded(original, first_up)

    downgrade(empty_url, PREVIOUS)
    assert current_revision(engine) == PREVIOUS
    down = dump(engine)
    for table in TABLES:
        if table != "people":
            assert down[table] == original[table], f"{table} changed on the downgrade"
    expected_people = [
        {**row, "name": NORMALISED.get(row["name"], row["name"])} for row in original["people"]
    ]
    assert down["people"] == expected_people
    checked += sum(len(rows) for rows in down.values())

    upgrade(empty_url, THIS)
    second_up = dump(engine)
    # "Trailing " came back as "Trailing", which splits to the same ("Trailing", ""): the
    # second upgrade gives exactly the first one's rows.
    assert second_up == first_up
    checked += sum(len(rows) for rows in second_up.values())

    # The models read the migrated rows, and the bot can write new ones next to them.
    upgrade(empty_url)
    database = Database(empty_url)
    try:
        with database.session() as session:
            people = {p.id: p for p in session.exec(select(Person)).all()}
            for row in original["people"]:
                assert people[row["id"]].display_name == row["name"].strip()
            session.add(Person(telegram_user_id=1, first_name="New", created_at=datetime.now(UTC)))
            session.commit()
    finally:
        database.dispose()

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{empty_url}"\nauto_migrate = false\n', "utf-8")
    code = main(["--config", str(config), "db", "check"])
    output = capsys.readouterr().out
    assert code == 0, output
    assert output.startswith("OK:") and head_revision() in output
    print(f"\nmigration {THIS} data test [{backend}]: {checked} rows checked over 3 steps")


# --- a big database -------------------------------------------------------------------------

ANSWERS = 100_000
QUESTIONS = 5
PEOPLE = 2_000
PER_PERSON = ANSWERS // QUESTIONS // PEOPLE  # deliveries per patient


def fill_big(engine: Engine) -> None:
    """100,000 answers (20,000 completed deliveries of 2,000 patients), in bulk inserts."""
    t = reflect(engine)
    with engine.begin() as connection:
        connection.execute(
            t["groups"].insert(), [{"id": 1, "name": "Big", "timezone": None, "created_at": T0}]
        )
        connection.execute(
            t["people"].insert(),
            [
                {
                    "id": n,
                    "telegram_user_id": 10_000 + n,
                    "chat_id": 10_000 + n,
                    "name": f"Patient{n} Number {n}" if n % 3 else f"Solo{n}",
                    "role": "patient",
                    "opted_out": False,
                    "unreachable": False,
                    "created_at": T0,
                }
                for n in range(1, PEOPLE + 1)
            ],
        )
        connection.execute(
            t["memberships"].insert(),
            [
                {"id": n, "group_id": 1, "person_id": n, "role": "patient", "joined_at": T0}
                for n in range(1, PEOPLE + 1)
            ],
        )
        connection.execute(
            t["tasks"].insert(),
            [
                {
                    "id": 1,
                    "group_id": 1,
                    "title": "Daily",
                    "due_date": date(2026, 1, 1),
                    "due_time": clock_time(9),
                    "recurrence": "FREQ=DAILY",
                    "expiry_minutes": 1440,
                    "created_at": T0,
                }
            ],
        )
        connection.execute(
            t["questions"].insert(),
            [
                {
                    "id": q,
                    "task_id": 1,
                    "position": q,
                    "description": f"Q{q}",
                    "response_type": "number",
                    "integer_only": False,
                    "required": True,
                }
                for q in range(1, QUESTIONS + 1)
            ],
        )
        deliveries = [
            {
                "id": (n - 1) * PER_PERSON + day + 1,
                "task_id": 1,
                "person_id": n,
                "due_at": T0 + timedelta(days=day),
                "expires_at": T0 + timedelta(days=day + 1),
                "status": "completed",
                "current_tries": 0,
                "reminders_sent": 0,
                "send_attempts": 1,
            }
            for n in range(1, PEOPLE + 1)
            for day in range(PER_PERSON)
        ]
        connection.execute(t["deliveries"].insert(), deliveries)
        answer = t["answers"].insert()
        batch: list[dict[str, Any]] = []
        for d in deliveries:
            for q in range(1, QUESTIONS + 1):
                batch.append(
                    {
                        "delivery_id": d["id"],
                        "question_id": q,
                        "value_text": str(q),
                        "value_number": float(q),
                        "skipped": False,
                        "answered_at": d["due_at"],
                    }
                )
            if len(batch) >= 20_000:
                connection.execute(answer, batch)
                batch = []
        if batch:
            connection.execute(answer, batch)


def test_upgrading_a_database_of_100000_answers_keeps_them_all_and_reports_the_time(
    engine: Engine, empty_url: str, backend: str
) -> None:
    started = time.perf_counter()
    fill_big(engine)
    built = time.perf_counter() - started
    before = {table: count(engine, table) for table in TABLES}
    assert before["answers"] == ANSWERS

    started = time.perf_counter()
    upgrade(empty_url, THIS)
    took = time.perf_counter() - started

    assert {table: count(engine, table) for table in TABLES} == before
    with engine.connect() as connection:
        solo = connection.exec_driver_sql(
            "SELECT count(*) FROM people WHERE last_name = ''"
        ).scalar()
    assert solo == len([n for n in range(1, PEOPLE + 1) if n % 3 == 0])
    print(
        f"\nupgrade {PREVIOUS} -> {THIS} with {ANSWERS:,} answers, {PEOPLE:,} people, "
        f"{ANSWERS // QUESTIONS:,} deliveries [{backend}]: {took:.2f} s "
        f"(building the data took {built:.1f} s)"
    )


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar() or 0)


# --- 0004: deliveries.current_position dropped ---------------------------------------------


def asked_position(rows: dict[str, list[dict[str, Any]]], delivery: dict[str, Any]) -> int | None:
    """The position of the delivery's first active question without an answer, if any."""
    answered = {a["question_id"] for a in rows["answers"] if a["delivery_id"] == delivery["id"]}
    open_positions = [
        q["position"]
        for q in rows["questions"]
        if q["task_id"] == delivery["task_id"]
        and q["removed_at"] is None
        and q["id"] not in answered
    ]
    return min(open_positions, default=None)


def test_dropping_current_position_keeps_every_other_value_and_the_downgrade_restores_it(
    engine: Engine, empty_url: str, backend: str
) -> None:
    fill(engine)
    upgrade(empty_url, "0003")
    # The check-ins in progress have answered only their first question.
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM answers WHERE delivery_id IN "
            "(SELECT id FROM deliveries WHERE status = 'in_progress') "
            "AND question_id IN (SELECT id FROM questions WHERE position >= 2)"
        )
    before = dump(engine)
    asking = {d["id"]: asked_position(before, d) for d in before["deliveries"]}
    in_progress = [d for d in before["deliveries"] if d["status"] == "in_progress"]
    assert in_progress and all(asking[d["id"]] is not None for d in in_progress)

    upgrade(empty_url, "0004")
    after = dump(engine)
    for table in TABLES:
        expected = before[table]
        if table == "deliveries":
            expected = [{k: v for k, v in d.items() if k != "current_position"} for d in expected]
        assert after[table] == expected, f"{table} changed on the upgrade"

    downgrade(empty_url, "0003")
    down = dump(engine)
    # What the bot asks: the first active question without an answer, for those in progress.
    expected = {
        **before,
        "deliveries": [
            {**d, "current_position": asking[d["id"]] if d["status"] == "in_progress" else None}
            for d in before["deliveries"]
        ],
    }
    changed = [
        (table, row["id"], column, row[column], again.get(column))
        for table in TABLES
        for row, again in zip(expected[table], down[table], strict=True)
        for column in row
        if again.get(column) != row[column]
    ]
    assert changed == [], "the downgrade works the position out from the answers"

    upgrade(empty_url, "0004")
    assert dump(engine) == after
    print(f"\nmigration 0004 data test [{backend}]: {sum(map(len, after.values()))} rows")


# --- 0005: the inbox, and the question a check-in last showed -----------------------------


def test_the_inbox_migration_records_the_question_in_progress_check_ins_were_shown(
    engine: Engine, empty_url: str, backend: str
) -> None:
    fill(engine)
    upgrade(empty_url, "0004")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM answers WHERE delivery_id IN "
            "(SELECT id FROM deliveries WHERE status = 'in_progress') "
            "AND question_id IN (SELECT id FROM questions WHERE position >= 2)"
        )
    before = dump(engine)
    in_progress = [d for d in before["deliveries"] if d["status"] == "in_progress"]
    assert in_progress

    upgrade(empty_url, "0005")
    after = dump(engine)
    for table in TABLES:
        if table != "deliveries":
            assert after[table] == before[table], f"{table} changed on the upgrade"
    questions = {q["id"]: q for q in before["questions"]}
    new_columns = ("asked_question_id", "asked_message_id", "asked_at", "ask_pending_since")
    for old, new in zip(before["deliveries"], after["deliveries"], strict=True):
        assert without([new], *new_columns) == [old]
        assert new["asked_message_id"] is None and new["ask_pending_since"] is None
        if old["status"] != "in_progress":
            assert new["asked_question_id"] is None
            continue
        # The version before had sent the current question: it stays answerable, unasked again.
        shown = questions[new["asked_question_id"]]
        assert shown["task_id"] == old["task_id"]
        assert shown["position"] == asked_position(before, old)
        assert new["asked_at"] == (old["started_at"] or old["sent_at"])
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM inbox").scalar() == 0

    downgrade(empty_url, "0004")
    assert dump(engine) == before
    upgrade(empty_url, "0005")
    assert dump(engine) == after
    print(f"\nmigration 0005 data test [{backend}]: {len(in_progress)} check-ins in progress")


# --- 0006: invite codes one whatever their case, demo codes, ended memberships ----------------


def add_invites(engine: Engine, *rows: tuple[int, str, int]) -> None:
    """Invites (id, code, group id) added next to fill()'s, at whatever revision stands."""
    with engine.begin() as connection:
        for invite_id, code, group_id in rows:
            connection.exec_driver_sql(
                "INSERT INTO invites (id, code, group_id, expires_at, max_uses, uses, "
                "revoked_at, created_at) VALUES (%(id)s, %(code)s, %(group)s, NULL, NULL, 0, "
                "NULL, %(at)s)"
                if engine.dialect.name == "postgresql"
                else "INSERT INTO invites (id, code, group_id, expires_at, max_uses, uses, "
                "revoked_at, created_at) VALUES (:id, :code, :group, NULL, NULL, 0, NULL, :at)",
                {"id": invite_id, "code": code, "group": group_id, "at": T0},
            )


def test_codes_get_their_demo_mark_and_every_row_survives_upgrade_downgrade_and_upgrade(
    engine: Engine, empty_url: str, backend: str
) -> None:
    fill(engine)
    upgrade(empty_url, "0005")
    # fill() has SHOULDER1 and HIP1 (seeded, short); a made one and a 7- and an 8-character one.
    add_invites(engine, (3, "Zq9-xW_3kPa0LmN7bVc2Ts", 1), (4, "Knee123", 2), (5, "Knee1234", 2))
    before = dump(engine)

    upgrade(empty_url, "0006")
    first_up = dump(engine)
    demo = {row["code"]: bool(row["demo"]) for row in first_up["invites"]}
    assert demo == {
        "SHOULDER1": False,
        "HIP1": True,
        "Zq9-xW_3kPa0LmN7bVc2Ts": False,
        "Knee123": True,
        "Knee1234": False,
    }
    expected = {
        **before,
        "invites": [{**row, "demo": demo[row["code"]]} for row in before["invites"]],
        "memberships": [{**row, "ended_at": None} for row in before["memberships"]],
    }
    # SQLite hands booleans over as 0 and 1.
    invites = [{**row, "demo": bool(row["demo"])} for row in first_up["invites"]]
    assert {**first_up, "invites": invites} == expected
    assert count(engine, "code_attempts") == 0
    # One code whatever its case, enforced by the database itself.
    with pytest.raises(sa.exc.IntegrityError):
        add_invites(engine, (6, "hip1", 1))
    assert count(engine, "invites") == 5

    downgrade(empty_url, "0005")
    assert dump(engine) == before
    upgrade(empty_url, "0006")
    assert dump(engine) == first_up
    print(f"\nmigration 0006 data test [{backend}]: {sum(map(len, first_up.values()))} rows")


def test_codes_that_differ_only_in_case_stop_the_upgrade_with_what_to_do(
    engine: Engine, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(engine)
    upgrade(empty_url, "0005")
    # The seed used to take both: "/start shoulder1" then joined whichever the database found.
    add_invites(engine, (3, "shoulder1", 2), (4, "Hip1", 1))
    before = dump(engine)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{empty_url}"\n', "utf-8")

    code = main(["--config", str(config), "db", "upgrade"])

    error = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in error and "IntegrityError" not in error
    for part in (
        "'SHOULDER1' (invite 1, group 'Shoulder Therapy 1')",
        "'shoulder1' (invite 3, group 'Hüfte – Gruppe 2')",
        "'HIP1' (invite 2, group 'Hüfte – Gruppe 2')",
        "'Hip1' (invite 4, group 'Shoulder Therapy 1')",
        "Nothing was changed",
        "patientbot db upgrade",
    ):
        assert part in error, error
    assert current_revision(engine) == "0005"
    assert dump(engine) == before

    # Doing what the sentence says lets the upgrade through.
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE invites SET code = 'shoulder1-2' WHERE id = 3")
        connection.exec_driver_sql("DELETE FROM invites WHERE id = 4")
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert current_revision(engine) == head_revision()


# --- 0007: weekly digests ---------------------------------------------------------------------


def test_the_digest_table_comes_and_goes_and_every_other_row_stays(
    engine: Engine, empty_url: str, backend: str
) -> None:
    fill(engine)
    upgrade(empty_url, "0006")
    before = dump(engine)

    upgrade(empty_url, "0007")
    assert dump(engine) == before
    assert count(engine, "digests") == 0
    row = {"group_id": 1, "person_id": 1, "due_at": T0, "status": "pending", "attempts": 0}
    insert = sa.table(
        "digests",
        *(sa.column(name) for name in ("group_id", "person_id", "due_at")),
        sa.column("status"),
        sa.column("attempts"),
    ).insert()
    with engine.begin() as connection:
        connection.execute(insert, [row])
    # Planned once per therapist, group and week, whoever plans it.
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(insert, [row])
    assert count(engine, "digests") == 1

    downgrade(empty_url, "0006")
    assert dump(engine) == before
    assert "digests" not in sa.inspect(engine).get_table_names()
    upgrade(empty_url, "0007")
    assert count(engine, "digests") == 0
    print(f"\nmigration 0007 data test [{backend}]: digests table up, down and up")


# --- 0008: the audit trail --------------------------------------------------------------------


def test_the_audit_table_comes_and_goes_and_every_other_row_stays(
    engine: Engine, empty_url: str, backend: str
) -> None:
    fill(engine)
    upgrade(empty_url, "0007")
    before = dump(engine)

    upgrade(empty_url, "0008")
    assert dump(engine) == before
    assert count(engine, "audit_events") == 0
    columns = ("at", "actor_telegram_id", "actor_role", "action", "object_kind", "object_id")
    insert = sa.table("audit_events", *(sa.column(name) for name in columns)).insert()
    row = {
        "at": T0,
        "actor_telegram_id": 9001,
        "actor_role": "administrator",
        "action": "task_created",
        "object_kind": "task",
        "object_id": 1,
    }
    with engine.begin() as connection:
        connection.execute(insert, [row])
    assert count(engine, "audit_events") == 1
    if backend == "postgresql":
        # Append-only from the first row on: the trigger comes with the table.
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM audit_events")
        assert count(engine, "audit_events") == 1

    downgrade(empty_url, "0007")
    assert dump(engine) == before
    assert "audit_events" not in sa.inspect(engine).get_table_names()
    upgrade(empty_url, "0008")
    assert count(engine, "audit_events") == 0
    print(f"\nmigration 0008 data test [{backend}]: audit_events up, down and up")


# --- 0009: an erasure leaves no Telegram id -----------------------------------------------------


def inbox_rows(engine: Engine) -> dict[int, tuple[Any, str]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT update_id, chat_id, payload FROM inbox")
        return {r.update_id: (r.chat_id, r.payload) for r in rows}


def test_people_erased_before_0009_lose_their_ids_and_the_downgrade_gives_them_placeholders(
    engine: Engine, empty_url: str, backend: str
) -> None:
    fill(engine)
    upgrade(empty_url, "0008")
    before = dump(engine)
    (erased,) = [p for p in before["people"] if p["data_deleted_at"] is not None]
    kept = next(p for p in before["people"] if p["data_deleted_at"] is None)
    gone_id, kept_id = erased["telegram_user_id"], kept["telegram_user_id"]
    inbox = sa.table(
        "inbox",
        *(sa.column(n) for n in ("update_id", "chat_id", "payload", "state", "received_at")),
        sa.column("attempts"),
    )
    counters = sa.table(
        "code_attempts",
        *(sa.column(n) for n in ("user_id", "window_started_at", "expires_at", "failures")),
        *(sa.column(n) for n in ("cooldowns", "alerted")),
    )
    with engine.begin() as connection:
        for n, chat, state in (
            (1, gone_id, "done"),
            (2, kept_id, "done"),
            (3, gone_id, "pending"),
        ):
            connection.execute(
                inbox.insert(),
                [
                    {
                        "update_id": n,
                        "chat_id": chat,
                        "payload": f'{{"update_id": {n}, "from": {chat}}}',
                        "state": state,
                        "received_at": T0,
                        "attempts": 0,
                    }
                ],
            )
        connection.execute(
            counters.insert(),
            [
                {
                    "user_id": user,
                    "window_started_at": T0,
                    "expires_at": T0,
                    "failures": 1,
                    "cooldowns": 0,
                    "alerted": False,
                }
                for user in (gone_id, kept_id)
            ],
        )

    upgrade(empty_url, "0009")

    after = dump(engine)
    expected_people = [
        {**p, "erased_user_mark": None}
        if p["id"] != erased["id"]
        else {
            **p,
            "telegram_user_id": None,
            "chat_id": None,
            "last_answer_message_id": None,
            "erased_user_mark": None,
        }
        for p in before["people"]
    ]
    assert after == {**before, "people": expected_people}
    assert inbox_rows(engine) == {
        1: (None, '{"update_id": 1}'),
        2: (kept_id, f'{{"update_id": 2, "from": {kept_id}}}'),
        3: (None, '{"update_id": 3}'),
    }
    with engine.connect() as connection:
        users = connection.exec_driver_sql("SELECT user_id FROM code_attempts").scalars()
        assert list(users) == [kept_id]
    # Someone who erased their data may join again: a second row without an id is allowed.
    people = sa.table(
        "people",
        *(sa.column(n) for n in ("id", "telegram_user_id", "role", "created_at")),
        sa.column("first_name"),
        sa.column("last_name"),
        sa.column("language_code"),
        sa.column("opted_out"),
        sa.column("unreachable"),
        sa.column("erased_user_mark"),
    )
    with engine.begin() as connection:
        connection.execute(
            people.insert(),
            [
                {
                    "id": 99,
                    "telegram_user_id": None,
                    "role": "patient",
                    "created_at": T0,
                    "first_name": "",
                    "last_name": "",
                    "language_code": "en",
                    "opted_out": False,
                    "unreachable": False,
                    "erased_user_mark": "ab" * 32,
                }
            ],
        )

    downgrade(empty_url, "0008")

    down = dump(engine)
    placeholders = {p["id"]: p["telegram_user_id"] for p in down["people"]}
    assert (placeholders[erased["id"]], placeholders[99]) == (-erased["id"], -99)
    # As before the upgrade, but for the ids the upgrade took away.
    assert [p for p in down["people"] if p["id"] != 99] == [
        {**p, "telegram_user_id": -p["id"], "chat_id": None, "last_answer_message_id": None}
        if p["id"] == erased["id"]
        else p
        for p in before["people"]
    ]
    assert "erased_user_mark" not in {c["name"] for c in sa.inspect(engine).get_columns("people")}
    upgrade(empty_url, "0009")
    assert count(engine, "people") == len(before["people"]) + 1
    print(f"\nmigration 0009 data test [{backend}]: ids of erased people up, down and up")
