"""Every table's pydantic schema builds: ``TableBase`` defers building it until first use, so
a field pydantic cannot handle would otherwise show only when something first validates one."""

from __future__ import annotations

import pytest
from sqlmodel import SQLModel

from storage.models import TableBase

TABLES = sorted(
    (
        mapper.class_
        for mapper in SQLModel._sa_registry.mappers
        if issubclass(mapper.class_, TableBase)
    ),
    key=lambda table: table.__name__,
)


def test_every_table_derives_from_the_deferring_base() -> None:
    assert len(TABLES) == len(SQLModel.metadata.tables)


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.__name__)
def test_the_table_schema_builds(table: type[TableBase]) -> None:
    assert table.model_rebuild(force=True)
    assert table.model_json_schema()["title"] == table.__name__
