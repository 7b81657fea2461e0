"""The schema changes only through migrations, and the migrations match the models.

pytest-alembic's built-in tests run here on both backends against an empty database each.
Then the start-up check: what `patientbot run` does on a database it does or does not
understand.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.config import Config
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from bot.cli import main
from bot.services.checkin.shown import reworded_since
from storage.db import alembic_config as make_alembic_config
from storage.db import downgrade, head_revision, make_engine, schema_status, upgrade
from storage.models import PARTIAL_WHERE
from tests.conftest import empty_database_url
from tests.hardening.test_migration_data import T0 as FILLED_AT
from tests.hardening.test_migration_data import dump, fill, without

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


@pytest.fixture
def alembic_config(empty_url: str) -> Config:
    return make_alembic_config(empty_url)


@pytest.fixture
def alembic_engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def _config_file(tmp_path: Path, url: str, *, auto_migrate: bool) -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\nauto_migrate = {str(auto_migrate).lower()}\n',
        encoding="utf-8",
    )
    return str(path)


def _run(config: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", config, *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_db_upgrade_then_check_reports_a_database_that_matches_the_models(
    empty_url: str, backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, empty_url, auto_migrate=False)
    code, before = _run(config, capsys, "db", "current")
    if backend == "sqlite":
        # No file yet: said, and not made (a mistyped path would otherwise be one).
        assert code == 1
        assert before.startswith(f"There is no database at {make_url(empty_url).database}")
        assert not Path(str(make_url(empty_url).database)).exists()
    else:
        assert code == 0
        assert "no migration applied yet" in before

    code, upgraded = _run(config, capsys, "db", "upgrade")
    assert code == 0
    assert f"to revision {head_revision()}" in upgraded

    code, checked = _run(config, capsys, "db", "check")
    assert code == 0
    assert checked.startswith("OK:")
    assert "matches the models" in checked


def test_seed_refuses_an_empty_database_when_auto_migrate_is_off(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, empty_url, auto_migrate=False)
    seed = tmp_path / "seed.toml"
    seed.write_text("", encoding="utf-8")
    code, output = _run(config, capsys, "seed", str(seed))
    assert code == 1
    assert "auto_migrate is off" in output
    assert "Run: patientbot db upgrade" in output
    assert "Traceback" not in output


def test_an_empty_database_is_upgraded_on_start_when_auto_migrate_is_on(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, empty_url, auto_migrate=True)
    seed = tmp_path / "seed.toml"
    seed.write_text("", encoding="utf-8")
    code, _output = _run(config, capsys, "seed", str(seed))
    assert code == 0
    engine = make_engine(empty_url)
    try:
        assert schema_status(engine).current == head_revision()
    finally:
        engine.dispose()


def test_tables_without_a_migration_record_are_refused_with_what_to_do(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE people (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    config = _config_file(tmp_path, empty_url, auto_migrate=True)

    code, output = _run(config, capsys, "db", "upgrade")
    assert code == 1
    assert "no migration record" in output
    assert "empty database" in output

    code, output = _run(config, capsys, "seed", str(tmp_path / "any.toml"))
    assert code == 1
    assert "no migration record" in output

    # db check says the same, not "Run: patientbot db upgrade", which would only refuse.
    code, output = _run(config, capsys, "db", "check")
    assert code == 1
    assert "no migration record" in output and "Run: patientbot db upgrade" not in output


def test_a_revision_this_code_does_not_know_is_refused(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    engine.dispose()
    config = _config_file(tmp_path, empty_url, auto_migrate=True)

    code, output = _run(config, capsys, "seed", str(tmp_path / "any.toml"))
    assert code == 1
    assert "ffff_future" in output
    assert "does not know" in output
    assert "newer version" in output
    code, output = _run(config, capsys, "db", "check")
    assert code == 1
    assert "does not know" in output and "Run: patientbot db upgrade" not in output


def test_an_older_database_is_refused_when_auto_migrate_is_off(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if make_url(empty_url).get_backend_name() == "sqlite":
        # A file that is there but behind (a missing one is told apart: see above).
        Path(str(make_url(empty_url).database)).touch()
    config = _config_file(tmp_path, empty_url, auto_migrate=False)
    code, output = _run(config, capsys, "db", "check")
    assert code == 1
    assert "Run: patientbot db upgrade" in output


def test_an_unreachable_database_is_one_clear_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, "postgresql://nobody@127.0.0.1:1/nowhere", auto_migrate=True)
    code, output = _run(config, capsys, "db", "current")
    assert code == 1
    assert output.startswith("Cannot use the database at postgresql")
    assert "Traceback" not in output


def test_instances_starting_together_migrate_an_empty_postgresql_database_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # PostgreSQL only: it is the store several instances share; SQLite serves one process.
    empty_url = empty_database_url(request, "postgresql", tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(upgrade, empty_url) for _ in range(4)]:
            future.result(timeout=60)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in versions] == [head_revision()]
    finally:
        engine.dispose()


def test_the_start_reads_the_same_revisions_as_alembic() -> None:
    """The bot's start reads revisions without alembic; both must see the same chain and head."""
    from alembic.script import ScriptDirectory

    from storage.db import known_revisions

    script = ScriptDirectory.from_config(make_alembic_config("sqlite://"))
    alembic_chain = {rev.revision: rev.down_revision for rev in script.walk_revisions()}
    assert known_revisions() == alembic_chain
    assert head_revision() == script.get_current_head()


# --- 0010: question revisions -----------------------------------------------------------------

REVISED = (
    "description",
    "link",
    "response_type",
    "options",
    "min_value",
    "max_value",
    "integer_only",
    "max_length",
)


@contextmanager
def filled_at(empty_url: str, revision: str) -> Iterator[Engine]:
    """A database filled at 0002 (``fill``), then upgraded to ``revision``: where a migration's
    data test begins."""
    upgrade(empty_url, "0002")
    engine = make_engine(empty_url)
    try:
        fill(engine)
        upgrade(empty_url, revision)
        yield engine
    finally:
        engine.dispose()


def _rows(engine: Engine, table: str) -> list[dict[str, object]]:
    with engine.connect() as connection:
        found = connection.exec_driver_sql(f'SELECT * FROM "{table}" ORDER BY id').mappings()
        return [dict(row) for row in found]


def _before_0010() -> str:
    """The revision 0010 follows (0008 when written; whatever the chain says after a merge)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(make_alembic_config("sqlite://"))
    revision = script.get_revision("0010")
    assert revision is not None
    return str(revision.down_revision)


def test_every_question_becomes_its_revision_1_and_every_answer_points_at_it(
    empty_url: str, backend: str
) -> None:
    previous = _before_0010()
    with filled_at(empty_url, previous) as engine:
        before = dump(engine)
        assert before["questions"] and before["answers"]

        upgrade(empty_url, "0010")
        after = dump(engine)
        revisions = _rows(engine, "question_revisions")
        tasks = {row["id"]: row for row in after["tasks"]}
        # One revision 1 per question, with the question's wording and its task's date.
        assert len(revisions) == len(after["questions"])
        by_question = {row["question_id"]: row for row in revisions}
        for question in after["questions"]:
            assert question["revision"] == 1
            revision = by_question[question["id"]]
            assert revision["revision"] == 1
            assert {f: revision[f] for f in REVISED} == {f: question[f] for f in REVISED}
            assert revision["created_at"] == tasks[question["task_id"]]["created_at"]
        # Every answer points at its own question's revision 1; nothing else moved.
        revision_of = {row["id"]: row for row in revisions}
        for answer in after["answers"]:
            pointed = revision_of[answer["question_revision_id"]]
            assert (pointed["question_id"], pointed["revision"]) == (answer["question_id"], 1)
        assert without(after["answers"], "question_revision_id") == before["answers"]
        assert without(after["questions"], "revision") == before["questions"]
        assert {t: after[t] for t in after if t not in ("answers", "questions")} == {
            t: before[t] for t in before if t not in ("answers", "questions")
        }

        # A revision 2 made after the upgrade: the downgrade keeps the question's newest wording.
        question = after["questions"][0]
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO question_revisions (question_id, revision, description, "
                    "response_type, integer_only, created_at) "
                    "VALUES (:q, 2, 'Reworded', :kind, :whole, :at)"
                ),
                {
                    "q": question["id"],
                    "kind": question["response_type"],
                    "whole": question["integer_only"],
                    "at": tasks[question["task_id"]]["created_at"],
                },
            )
            connection.execute(
                sa.text(
                    "UPDATE questions SET revision = 2, description = 'Reworded' WHERE id = :q"
                ),
                {"q": question["id"]},
            )

        downgrade(empty_url, previous)
        down = dump(engine)
        assert "question_revisions" not in sa.inspect(engine).get_table_names()
        reworded = next(q for q in down["questions"] if q["id"] == question["id"])
        assert reworded["description"] == "Reworded"
        restored = [q if q["id"] != question["id"] else reworded for q in before["questions"]]
        assert down == before | {"questions": restored}

        upgrade(empty_url, "0010")
        assert len(_rows(engine, "question_revisions")) == len(before["questions"])
        print(
            f"\nmigration 0010 data test [{backend}]: {len(revisions)} questions to revision 1, "
            f"{len(after['answers'])} answers pointed at them, down and up again"
        )


def test_the_language_choice_comes_and_goes_and_every_person_keeps_the_rest(
    empty_url: str,
) -> None:
    """0014 adds people.language (NULL: no choice yet); going down drops only that column."""
    upgrade(empty_url, "0013")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO people (telegram_user_id, chat_id, first_name, last_name, "
                    "language_code, role, opted_out, unreachable, created_at) VALUES "
                    "(101, 101, 'Anna', 'Berger', 'de-AT', 'patient', false, false, "
                    "'2026-12-01 09:00:00'), "
                    "(102, 102, 'Bea', '', 'es', 'patient', false, false, '2026-12-01 09:00:00')"
                )
            )
        columns = "telegram_user_id, first_name, last_name, language_code"
        with engine.connect() as connection:
            before = connection.execute(sa.text(f"SELECT {columns} FROM people ORDER BY 1")).all()

        upgrade(empty_url, "0014")
        with engine.begin() as connection:
            rows = connection.execute(
                sa.text(f"SELECT {columns}, language FROM people ORDER BY 1")
            ).all()
            assert [row[:4] for row in rows] == before
            assert [row[4] for row in rows] == [None, None]
            connection.execute(
                sa.text("UPDATE people SET language = 'es' WHERE telegram_user_id = 101")
            )

        downgrade(empty_url, "0013")
        with engine.connect() as connection:
            assert "language" not in {
                column["name"] for column in sa.inspect(connection).get_columns("people")
            }
            after = connection.execute(sa.text(f"SELECT {columns} FROM people ORDER BY 1")).all()
        assert after == before

        upgrade(empty_url, "0014")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT language FROM people")).scalars().all() == [
                None,
                None,
            ]
    finally:
        engine.dispose()


# --- 0012: consent --------------------------------------------------------------------------

CONSENT_TABLES = ("consent_versions", "consents", "consent_requests")
T0 = datetime(2026, 11, 20, 9, 0)  # stored naive, as UTCDateTime does


def _dump(engine: Engine, tables: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table: [
                dict(row)
                for row in connection.exec_driver_sql(
                    f'SELECT * FROM "{table}" ORDER BY id'
                ).mappings()
            ]
            for table in tables
        }


def test_consent_tables_come_and_go_and_existing_groups_ask_for_no_consent(
    empty_url: str, backend: str
) -> None:
    upgrade(empty_url, "0011")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO groups (id, name, timezone, created_at) "
                    "VALUES (1, 'Knees', 'Europe/London', :t)"
                ),
                {"t": T0},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO people (id, telegram_user_id, chat_id, first_name, last_name, "
                    "language_code, role, opted_out, unreachable, created_at) VALUES "
                    "(1, 5000000001, 5000000001, 'Alice', 'Test', 'en', 'patient', false, "
                    "false, :t)"
                ),
                {"t": T0},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO memberships (id, group_id, person_id, role, joined_at) "
                    "VALUES (1, 1, 1, 'patient', :t)"
                ),
                {"t": T0},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO invites (id, code, demo, group_id, uses, created_at) "
                    "VALUES (1, 'KNEESCODE1', false, 1, 0, :t)"
                ),
                {"t": T0},
            )
        kept = ("groups", "people", "memberships", "invites")
        before = _dump(engine, kept)

        upgrade(empty_url, "0012")
        assert _dump(engine, kept) == before
        # No version for any existing group: none of them asks for consent, so the member is
        # prompted as before.
        assert _dump(engine, CONSENT_TABLES) == {table: [] for table in CONSENT_TABLES}
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO consent_versions (group_id, version, text, created_at) "
                    "VALUES (1, 1, 'Your answers are stored.', :t)"
                ),
                {"t": T0},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO consents (group_id, person_id, version, agreed_at) "
                    "VALUES (1, 1, 1, :t)"
                ),
                {"t": T0},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO consent_requests (telegram_user_id, invite_id, version, "
                    "created_at) VALUES (5000000002, 1, 1, :t)"
                ),
                {"t": T0},
            )
        # One agreement per person and version: a double press stores one.
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO consents (group_id, person_id, version, agreed_at) "
                    "VALUES (1, 1, 1, :t)"
                ),
                {"t": T0},
            )

        downgrade(empty_url, "0011")
        assert _dump(engine, kept) == before
        assert not set(CONSENT_TABLES) & set(sa.inspect(engine).get_table_names())
        upgrade(empty_url, "0012")
        assert _dump(engine, CONSENT_TABLES) == {table: [] for table in CONSENT_TABLES}
        print(f"\nmigration 0012 data test [{backend}]: consent tables up, down and up")
    finally:
        engine.dispose()


# --- 0013: the messages of open check-ins, to edit once they close ----------------------------


def test_0013_records_the_prompts_of_open_check_ins_and_gives_every_row_back_on_downgrade(
    empty_url: str, backend: str
) -> None:
    with filled_at(empty_url, "0012") as engine:
        before = dump(engine)

        upgrade(empty_url, "0013")
        assert dump(engine) == before
        chats = {p["id"]: p["chat_id"] for p in before["people"]}
        expected = [
            (d["id"], chats[d["person_id"]], d["prompt_message_id"], "prompt", None, d["sent_at"])
            for d in before["deliveries"]
            if d["status"] in ("sent", "in_progress")
            and d["prompt_message_id"] is not None
            and chats[d["person_id"]] is not None
        ]
        assert len(expected) >= 2  # fill() has both kinds of open check-in, twice
        query = (
            "SELECT delivery_id, chat_id, message_id, kind, text, created_at "
            "FROM checkin_messages ORDER BY id"
        )
        with engine.connect() as connection:
            assert [tuple(r) for r in connection.exec_driver_sql(query)] == expected

        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO checkin_messages "
                    "(delivery_id, chat_id, message_id, kind, text, created_at) "
                    "VALUES (:d, :chat, 99, 'reminder', '<b>Reminder</b>', :at)"
                ),
                {"d": expected[1][0], "chat": expected[1][1], "at": FILLED_AT},
            )

        # Down: every other row as it was, the table gone (its reminder with it, as documented).
        downgrade(empty_url, "0012")
        assert "checkin_messages" not in sa.inspect(engine).get_table_names()
        assert dump(engine) == before
        upgrade(empty_url, "0013")
        with engine.connect() as connection:
            assert [tuple(r) for r in connection.exec_driver_sql(query)] == expected

        # A check-in deleted under its message (retention's purge) leaves it to close, unlinked.
        erased = expected[0][0]
        with engine.begin() as connection:
            connection.execute(
                sa.text("DELETE FROM answers WHERE delivery_id = :d"), {"d": erased}
            )
            connection.execute(sa.text("DELETE FROM deliveries WHERE id = :d"), {"d": erased})
        with engine.connect() as connection:
            linked = connection.exec_driver_sql(
                "SELECT delivery_id FROM checkin_messages ORDER BY id"
            ).scalars()
            assert list(linked) == [None, *[e[0] for e in expected[1:]]]
        print(f"\nmigration 0013 data test [{backend}]: {len(expected)} open prompts recorded")


# --- 0015: content translations ---------------------------------------------------------------

TRANSLATED_TABLES = ("tasks", "questions", "question_revisions")


def _translated_dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """fill()'s tables (at 0002) and the revisions 0010 made of its questions."""
    return dump(engine) | {"question_revisions": _rows(engine, "question_revisions")}


def test_translations_come_empty_and_go_and_every_row_keeps_its_canonical_wording(
    empty_url: str, backend: str
) -> None:
    """0015 adds a NULL ``translations`` to tasks, questions and their revisions; going down
    drops only those columns, whatever translations were written meanwhile."""
    with filled_at(empty_url, "0014") as engine:
        before = _translated_dump(engine)
        assert before["tasks"] and before["questions"] and before["question_revisions"]

        upgrade(empty_url, "0015")
        after = _translated_dump(engine)
        for table in TRANSLATED_TABLES:
            assert [row["translations"] for row in after[table]] == [None] * len(before[table])
            assert without(after[table], "translations") == before[table]
        assert {t: after[t] for t in after if t not in TRANSLATED_TABLES} == {
            t: before[t] for t in before if t not in TRANSLATED_TABLES
        }

        # Translations written after the upgrade, as a seed writes them.
        question = after["questions"][0]
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE tasks SET translations = :t WHERE id = :id"),
                {"t": '{"de": {"title": "Hüfte"}}', "id": question["task_id"]},
            )
            for table, key in (("questions", "id"), ("question_revisions", "question_id")):
                connection.execute(
                    sa.text(f"UPDATE {table} SET translations = :t WHERE {key} = :id"),
                    {"t": '{"es": {"text": "¿Qué lado?"}}', "id": question["id"]},
                )

        downgrade(empty_url, "0014")
        with engine.connect() as connection:
            for table in TRANSLATED_TABLES:
                columns = {c["name"] for c in sa.inspect(connection).get_columns(table)}
                assert "translations" not in columns
        assert _translated_dump(engine) == before

        upgrade(empty_url, "0015")
        again = _translated_dump(engine)
        for table in TRANSLATED_TABLES:
            assert all(row["translations"] is None for row in again[table])
        print(
            f"\nmigration 0015 data test [{backend}]: "
            + ", ".join(f"{len(after[t])} {t}" for t in TRANSLATED_TABLES)
            + " kept, translations dropped on the way down"
        )


# --- 0016 and 0017: the inbox's claim indexes, the answers' alert mark ---------------------


def _indexes(engine: Engine, table: str) -> set[str]:
    with engine.connect() as connection:
        return {str(index["name"]) for index in sa.inspect(connection).get_indexes(table)}


def _index_predicates(engine: Engine) -> dict[str, str | None]:
    """Every index of the database: its WHERE as the database gives it back, or None."""
    if engine.dialect.name == "postgresql":
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    with engine.connect() as connection:
        definitions = connection.execute(sa.text(query)).all()
    predicates: dict[str, str | None] = {}
    for name, definition in definitions:
        _, where, predicate = definition.partition(" WHERE ")
        predicates[name] = _bare(predicate) if where else None
    return predicates


def _bare(predicate: str) -> str:
    """The predicate without the parentheses PostgreSQL wraps it in, spaces and case aside."""
    text = " ".join(predicate.split())
    while text.startswith("(") and _closes_at_end(text):
        text = text[1:-1].strip()
    return text.lower()


def _closes_at_end(text: str) -> bool:
    """Whether the parenthesis that opens ``text`` is the one that ends it."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index == len(text) - 1
    return False


def test_every_index_at_the_head_is_partial_exactly_as_its_model_says(
    empty_url: str, backend: str
) -> None:
    """Models name a partial index's predicate in its ``info`` (``storage.models.partial``)
    and migrations make it; alembic's comparison (``patientbot db check``) leaves predicates
    out, so this is what keeps the two the same."""
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        in_database = _index_predicates(engine)
    finally:
        engine.dispose()
    in_models = {
        str(index.name): index.info.get(PARTIAL_WHERE)
        for table in SQLModel.metadata.tables.values()
        for index in table.indexes
    }
    assert {name: p for name, p in in_models.items() if p} == {
        "ix_answers_alert_pending_since": "alert_pending_since IS NOT NULL",
        "ix_inbox_leased_chat_id": "lease_until IS NOT NULL",
    }
    for name, predicate in in_models.items():
        assert name in in_database, f"{name} is in the models, not in the database"
        expected = _bare(predicate) if predicate else None
        assert in_database[name] == expected, f"{name} [{backend}]"


def test_the_claim_indexes_and_the_alert_mark_come_and_go_and_every_row_stays(
    empty_url: str, backend: str
) -> None:
    """0016 adds two indexes to the inbox, 0017 a NULL ``alert_pending_since`` (with its
    index) to the answers; going down drops them, whatever was marked meanwhile."""
    with filled_at(empty_url, "0015") as engine:
        before = dump(engine)
        assert before["answers"]

        upgrade(empty_url, "0017")
        after = dump(engine)
        assert [row["alert_pending_since"] for row in after["answers"]] == [None] * len(
            before["answers"]
        ), "every answer existing at the upgrade has its alerts behind it"
        assert {t: without(rows, "alert_pending_since") for t, rows in after.items()} == before
        assert {"ix_inbox_state_update_id", "ix_inbox_leased_chat_id"} <= _indexes(engine, "inbox")
        assert "ix_answers_alert_pending_since" in _indexes(engine, "answers")

        with engine.begin() as connection:  # an alert not yet sent at the downgrade
            connection.execute(
                sa.text("UPDATE answers SET alert_pending_since = :at WHERE id = :id"),
                {"at": FILLED_AT, "id": after["answers"][0]["id"]},
            )
        downgrade(empty_url, "0015")
        assert dump(engine) == before
        assert not {"ix_inbox_state_update_id", "ix_inbox_leased_chat_id"} & _indexes(
            engine, "inbox"
        )
        print(
            f"\nmigrations 0016-0017 data test [{backend}]: {len(before['answers'])} answers "
            "and every other row kept both ways"
        )


# --- 0020: the revision a check-in's question was shown in ------------------------------------


def test_0020_names_the_revision_the_time_rule_took_as_shown_and_the_downgrade_drops_it(
    empty_url: str, backend: str
) -> None:
    """Each check-in's question gets the newest revision made at or before its ``asked_at``:
    whatever the old rule (reworded if the newest revision came after ``asked_at``) took as
    reworded, the new one (another revision, or none) takes so too."""
    hour = timedelta(hours=1)
    with filled_at(empty_url, "0019") as engine:
        questions = _rows(engine, "questions")
        deliveries = _rows(engine, "deliveries")
        # (question asked, asked_at, when its revision 2 was made; None: none made)
        cases = [
            (questions[0]["id"], FILLED_AT + hour, FILLED_AT + hour / 2),  # before: shown
            (questions[1]["id"], FILLED_AT + hour, FILLED_AT + 2 * hour),  # after: reworded
            (questions[2]["id"], FILLED_AT + hour, FILLED_AT + hour),  # the same instant
            (questions[3]["id"], None, None),  # reworded while on its way (0019's record)
            (questions[4]["id"], FILLED_AT - 100 * 24 * hour, None),  # before revision 1
            (questions[5]["id"], FILLED_AT + hour, None),  # never reworded
        ]
        with engine.begin() as connection:
            for delivery, (question_id, asked_at, revised_at) in zip(
                deliveries, cases, strict=False
            ):
                connection.execute(
                    sa.text(
                        "UPDATE deliveries SET asked_question_id = :q, asked_at = :at, "
                        "asked_message_id = 20, status = 'in_progress' WHERE id = :id"
                    ),
                    {"q": question_id, "at": asked_at, "id": delivery["id"]},
                )
                if revised_at is not None:
                    connection.execute(
                        sa.text(
                            "INSERT INTO question_revisions (question_id, revision, "
                            "description, link, response_type, options, min_value, "
                            "max_value, integer_only, max_length, created_at) "
                            "SELECT id, 2, description, link, response_type, options, "
                            "min_value, max_value, integer_only, max_length, :at "
                            "FROM questions WHERE id = :q"
                        ),
                        {"q": question_id, "at": revised_at},
                    )
                    connection.execute(
                        sa.text("UPDATE questions SET revision = 2 WHERE id = :q"),
                        {"q": question_id},
                    )
            # A finished check-in that was asked a question: never answered again.
            connection.execute(
                sa.text(
                    "UPDATE deliveries SET asked_question_id = :q, asked_at = :at, "
                    "status = 'completed' WHERE id = :id"
                ),
                {"q": questions[0]["id"], "at": FILLED_AT + hour, "id": deliveries[-1]["id"]},
            )
        before = dump(engine)
        revisions = _rows(engine, "question_revisions")

        upgrade(empty_url, "0020")
        after = dump(engine)
        assert {t: without(rows, "asked_revision") for t, rows in after.items()} == before
        asked = [row["asked_revision"] for row in after["deliveries"]]
        assert asked[: len(cases)] == [2, 1, 2, None, None, 1]
        assert set(asked[len(cases) :]) == {None}, "none asked, or finished: no revision named"
        newest = {q["id"]: q["revision"] for q in after["questions"]}
        for row in after["deliveries"][: len(cases)]:
            current = next(
                r
                for r in revisions
                if r["question_id"] == row["asked_question_id"]
                and r["revision"] == newest[row["asked_question_id"]]
            )
            old_rule = row["asked_at"] is None or _naive(current["created_at"]) > _naive(
                row["asked_at"]
            )
            assert reworded_since(row["asked_revision"], current["revision"]) is old_rule, row

        downgrade(empty_url, "0019")
        assert dump(engine) == before
        upgrade(empty_url, "0020")
        assert dump(engine) == after
        print(f"\nmigration 0020 data test [{backend}]: {len(cases)} shown questions named")


def _naive(value: object) -> datetime:
    """An instant as the driver hands it over: SQLite gives text, PostgreSQL a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# --- 0021: consent texts in other languages ---------------------------------------------------


def test_0021_gives_every_consent_version_no_translation_and_the_downgrade_keeps_the_rest(
    empty_url: str, backend: str
) -> None:
    with filled_at(empty_url, "0020") as engine:
        group_id = _rows(engine, "groups")[0]["id"]
        with engine.begin() as connection:
            for version, text in ((1, "Your answers are stored."), (2, None)):
                connection.execute(
                    sa.text(
                        "INSERT INTO consent_versions (group_id, version, text, created_at) "
                        "VALUES (:g, :v, :t, :at)"
                    ),
                    {"g": group_id, "v": version, "t": text, "at": FILLED_AT},
                )
        before = _rows(engine, "consent_versions")

        upgrade(empty_url, "0021")
        after = _rows(engine, "consent_versions")
        assert [row["translations"] for row in after] == [None, None]
        assert without(after, "translations") == before

        with engine.begin() as connection:  # a translation seeded after the upgrade
            connection.execute(
                sa.text("UPDATE consent_versions SET translations = :t WHERE version = 1"),
                {"t": '{"de": {"text": "Ihre Antworten werden gespeichert."}}'},
            )
        downgrade(empty_url, "0020")
        assert _rows(engine, "consent_versions") == before
        print(f"\nmigration 0021 data test [{backend}]: {len(before)} consent versions kept")


# --- 0022: the words a patient agreed to ------------------------------------------------------


def test_0022_records_no_language_for_earlier_agreements_and_the_downgrade_keeps_them(
    empty_url: str, backend: str
) -> None:
    """Which translation an agreement's patient read was not kept before 0022: every existing
    agreement says "not recorded" (NULL), never a guess; going down drops only the column."""
    with filled_at(empty_url, "0021") as engine:
        group_id = _rows(engine, "groups")[0]["id"]
        person_ids = [row["id"] for row in _rows(engine, "people")][:2]
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO consent_versions (group_id, version, text, translations, "
                    "created_at) VALUES (:g, 1, 'Your answers are stored.', :tr, :at)"
                ),
                {"g": group_id, "tr": '{"de": {"text": "Gespeichert."}}', "at": FILLED_AT},
            )
            for person_id in person_ids:
                connection.execute(
                    sa.text(
                        "INSERT INTO consents (group_id, person_id, version, agreed_at) "
                        "VALUES (:g, :p, 1, :at)"
                    ),
                    {"g": group_id, "p": person_id, "at": FILLED_AT},
                )
        before = _rows(engine, "consents")

        upgrade(empty_url, "0022")
        after = _rows(engine, "consents")
        assert [row["read_in"] for row in after] == [None, None]
        assert without(after, "read_in") == before

        with engine.begin() as connection:  # an agreement recorded after the upgrade
            connection.execute(
                sa.text("UPDATE consents SET read_in = 'de' WHERE person_id = :p"),
                {"p": person_ids[0]},
            )
        downgrade(empty_url, "0021")
        assert _rows(engine, "consents") == before
        print(f"\nmigration 0022 data test [{backend}]: {len(before)} agreements kept")


# --- 0023: a joiner's language ----------------------------------------------------------------


def test_0023_gives_every_waiting_join_no_language_and_the_downgrade_keeps_them(
    empty_url: str, backend: str
) -> None:
    with filled_at(empty_url, "0022") as engine:
        group_id = _rows(engine, "groups")[0]["id"]
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO invites (code, demo, group_id, uses, created_at) "
                    "VALUES ('JOINCODE22', false, :g, 0, :at)"
                ),
                {"g": group_id, "at": FILLED_AT},
            )
            invite_id = connection.execute(sa.text("SELECT max(id) FROM invites")).scalar_one()
            for user_id in (5000000101, 5000000102):
                connection.execute(
                    sa.text(
                        "INSERT INTO consent_requests (telegram_user_id, invite_id, version, "
                        "created_at) VALUES (:u, :i, 1, :at)"
                    ),
                    {"u": user_id, "i": invite_id, "at": FILLED_AT},
                )
        before = _rows(engine, "consent_requests")

        upgrade(empty_url, "0023")
        after = _rows(engine, "consent_requests")
        assert [row["language"] for row in after] == [None, None]
        assert without(after, "language") == before

        with engine.begin() as connection:  # a choice made after the upgrade
            connection.execute(
                sa.text("UPDATE consent_requests SET language = 'de' WHERE telegram_user_id = :u"),
                {"u": 5000000101},
            )
        downgrade(empty_url, "0022")
        assert _rows(engine, "consent_requests") == before
        print(f"\nmigration 0023 data test [{backend}]: {len(before)} waiting joins kept")


def test_commands_that_read_do_not_make_a_database_at_a_wrong_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in the path (or a config not read): export and audit made a new database,
    migrated it, and wrote "Wrote 0 answers" with exit code 0, as if that were the clinic's."""
    missing = tmp_path / "typo" / "patientbot.db"
    config = _config_file(tmp_path, f"sqlite:///{missing}", auto_migrate=True)
    for command in (["export", "--out", str(tmp_path / "x.csv")], ["audit", "--out", "a.csv"]):
        code, output = _run(config, capsys, *command)
        assert code == 1, command
        assert output.startswith(f"There is no database at {missing}, so there is nothing"), output
    assert not missing.parent.exists()
    assert not (tmp_path / "x.csv").exists()


def test_a_database_path_through_a_file_is_one_clear_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    config = _config_file(
        tmp_path, f"sqlite:///{tmp_path}/notes.txt/patientbot.db", auto_migrate=True
    )
    code, output = _run(config, capsys, "db", "upgrade")
    assert code == 1
    assert output.startswith(f"Cannot use the database at sqlite:///{tmp_path}/notes.txt/")
    assert f"File exists: '{tmp_path}/notes.txt'" in output  # the system's reason, named
    assert "Traceback" not in output


def test_config_is_taken_before_or_after_the_command(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README says every command takes --config; after the command it was refused as an
    unknown argument (exit 2), and one typed in both places must be the later one."""
    config = _config_file(tmp_path, empty_url, auto_migrate=True)
    assert main(["db", "upgrade", "--config", config]) == 0
    assert main(["--config", "nowhere.toml", "db", "current", "--config", config]) == 0
    assert "at revision" in capsys.readouterr().out
