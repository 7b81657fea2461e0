"""The schema changes only through migrations, and the migrations match the models.

pytest-alembic's built-in tests run here on both backends against an empty database each.
Then the start-up check: what `patientbot run` does on a database it does or does not
understand.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

from bot.cli import main
from storage.db import alembic_config as make_alembic_config
from storage.db import downgrade, head_revision, make_engine, schema_status, upgrade
from tests.conftest import empty_database_url
from tests.hardening.test_migration_data import T0, dump, fill

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
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, empty_url, auto_migrate=False)
    code, before = _run(config, capsys, "db", "current")
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


def test_an_older_database_is_refused_when_auto_migrate_is_off(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


# --- 0010: the messages of open check-ins, to edit once they close ----------------------------


def test_0010_records_the_prompts_of_open_check_ins_and_gives_every_row_back_on_downgrade(
    empty_url: str, backend: str
) -> None:
    upgrade(empty_url, "0002")
    engine = make_engine(empty_url)
    try:
        fill(engine)
        upgrade(empty_url, "0009")
        before = dump(engine)

        upgrade(empty_url, "0010")
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
                {"d": expected[1][0], "chat": expected[1][1], "at": T0},
            )

        # Down: every other row as it was, the table gone (its reminder with it, as documented).
        downgrade(empty_url, "0009")
        assert "checkin_messages" not in sa.inspect(engine).get_table_names()
        assert dump(engine) == before
        upgrade(empty_url, "0010")
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
        print(f"\nmigration 0010 data test [{backend}]: {len(expected)} open prompts recorded")
    finally:
        engine.dispose()
