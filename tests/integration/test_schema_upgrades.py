"""A database made by every earlier schema version, with data in it, upgraded to the newest: nothing is lost.

The databases are made here by the migrations themselves (upgrade to revision N), one row in every table of that
revision (values chosen from each column's type), then opened as the hub opens a database (kiosk.store.db.open_store:
the remaining migrations run). Every row is still there afterwards, with the values its columns still have. This is
what happens to a library's data when a newer package is installed over an older one (packaging/deb/postinst).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Boolean, Float, Integer, LargeBinary, MetaData, Numeric, String, Text, func, select

from kiosk.store.db import alembic_config, open_engine, open_store

VERSIONS = Path(__file__).resolve().parents[2] / "kiosk" / "store" / "migrations" / "versions"
REVISIONS = sorted(p.name.split("_", 1)[0] for p in VERSIONS.glob("[0-9]*_*.py"))


def value(column: Any, n: int) -> Any:
    kind = column.type
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, (Float, Numeric)):
        return 1.5 * n
    if isinstance(kind, LargeBinary):
        return b"\x01\x02"
    if isinstance(kind, (String, Text)):
        text = f"kept-{column.name}-{n}"
        return text[: kind.length] if getattr(kind, "length", None) else text
    return None


def filled(url: str, revision: str) -> dict[str, dict[str, Any]]:
    """A database at `revision` with one row in each of its tables; the rows, by table."""
    engine = open_engine(url)
    command.upgrade(alembic_config(engine), revision)
    metadata = MetaData()
    metadata.reflect(engine)
    rows: dict[str, dict[str, Any]] = {}
    with engine.begin() as connection:
        for n, table in enumerate(metadata.sorted_tables, start=1):  # referenced tables first
            if table.name == "alembic_version":
                continue
            row = {c.name: value(c, n) for c in table.columns}
            for column in table.columns:
                for key in column.foreign_keys:  # point at the row made in the table it references
                    row[column.name] = rows[key.column.table.name][key.column.name]
            connection.execute(table.insert().values(**row))
            rows[table.name] = row
    engine.dispose()
    return rows


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_a_database_from_an_earlier_version_keeps_every_row(tmp_path: Path, revision: str) -> None:
    url = f"sqlite:///{tmp_path / 'kiosk.db'}"
    before = filled(url, revision)
    engine = open_store(url)  # as the hub opens it: the remaining migrations run here
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        head = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert head == REVISIONS[-1]
        for name, row in before.items():
            assert name in metadata.tables, f"table {name} of schema {revision} is gone after the upgrade"
            table = metadata.tables[name]
            kept = {k: v for k, v in row.items() if k in table.columns}
            match = select(func.count()).select_from(table).where(*[table.columns[k] == v for k, v in kept.items()])
            assert connection.execute(match).scalar() == 1, f"{name}: the row made at schema {revision} changed"
    engine.dispose()
