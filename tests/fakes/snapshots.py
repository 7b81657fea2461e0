"""The database as rows: read it whole, compare it, put it back.

Flow and hardening tests ask "did anything change?" (a refused command, a forged button) and
"put it back as it was" (the fuzz replays each example from the same rows). One reading of the
database serves them all: every table but the inbox, by primary key, column -> value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql
from sqlmodel import SQLModel

from storage.db import Database

# The tables a therapist's commands write, and a patient's own rows.
THERAPIST_TABLES = ("groups", "tasks", "questions")
PERSON_TABLES = ("people", "memberships", "deliveries", "answers")

Rows = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def state_tables() -> list[Any]:
    """The tables that hold the bot's state: all but the inbox, which records every update
    received (refused ones too) and so changes with each one."""
    return [t for t in SQLModel.metadata.sorted_tables if t.name != "inbox"]


def read_rows(database: Database) -> Rows:
    """Every row of every table, by primary key, as column -> value (as the models type them)."""
    tables: Rows = {}
    with database.engine.connect() as connection:
        for table in state_tables():
            key = [c.name for c in table.primary_key.columns]
            rows = connection.execute(select(table)).mappings().all()
            tables[table.name] = {tuple(r[k] for k in key): dict(r) for r in rows}
    return tables


def open_questions(rows: Rows, delivery: dict[str, Any]) -> list[dict[str, Any]]:
    """The delivery's active questions without an answer, by position: the first is asked."""
    answered = {
        a["question_id"] for a in rows["answers"].values() if a["delivery_id"] == delivery["id"]
    }
    return sorted(
        (
            q
            for q in rows["questions"].values()
            if q["task_id"] == delivery["task_id"]
            and q["removed_at"] is None
            and q["id"] not in answered
        ),
        key=lambda q: q["position"],
    )


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the inbox, in primary-key order: equal snapshots mean
    nothing changed (the inbox records every update received, refused ones included)."""
    return {
        table: [tuple(row.values()) for _, row in sorted(rows.items())]
        for table, rows in read_rows(database).items()
    }


def rows_by_person(rows: Rows) -> dict[int, dict[str, dict[tuple[Any, ...], Any]]]:
    """Each person's own rows: their person row, memberships, deliveries and answers."""
    owner = {d["id"]: d["person_id"] for d in rows["deliveries"].values()}
    found: dict[int, dict[str, dict[tuple[Any, ...], Any]]] = {}

    def put(person_id: int, table: str, key: tuple[Any, ...], row: dict[str, Any]) -> None:
        found.setdefault(person_id, {t: {} for t in PERSON_TABLES})[table][key] = row

    for key, row in rows["people"].items():
        put(row["id"], "people", key, row)
    for table in ("memberships", "deliveries"):
        for key, row in rows[table].items():
            put(row["person_id"], table, key, row)
    for key, row in rows["answers"].items():
        put(owner[row["delivery_id"]], "answers", key, row)
    return found


def clear_inbox(database: Database) -> None:
    """Forget every update received: a new fake Bot API numbers its updates from 1 again."""
    with database.engine.begin() as connection:
        connection.execute(SQLModel.metadata.tables["inbox"].delete())


def restore(database: Database, rows: Rows) -> None:
    """Put the database back to ``rows`` exactly, ids included, so an example replays the same.

    Deleting and inserting a few dozen rows takes milliseconds, where seeding and joining again
    takes a quarter of a second: the difference between a thousand updates and three thousand.
    The inbox is emptied too, so an update id used before is a new update again.
    """
    tables = SQLModel.metadata.sorted_tables
    with database.engine.begin() as connection:
        for table in reversed(tables):
            if table.name == "audit_events" and not database.is_sqlite:
                # The trail refuses DELETE (a trigger); emptying it whole is the owner's reset.
                connection.execute(sql("TRUNCATE audit_events"))
            else:
                connection.execute(table.delete())
        for table in tables:
            if rows.get(table.name):
                connection.execute(table.insert(), list(rows[table.name].values()))
        if not database.is_sqlite:
            # Ids restart after the restored rows, as SQLite's do by themselves.
            for table in tables:
                if "id" in table.columns:
                    connection.execute(
                        sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f'COALESCE((SELECT max(id) FROM "{table.name}"), 0) + 1, false)'
                        )
                    )
