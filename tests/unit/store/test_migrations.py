from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kiosk.store.backup import backup
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry
from kiosk.store.models import Base


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert "alembic_version" in inspect(engine).get_table_names()


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    info, _ = DeviceRegistry(open_store(url)).create("Stall", "stall", "test")
    assert DeviceRegistry(open_store(url)).get(info.id) == info


def test_online_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    info, token = DeviceRegistry(engine).create("Stall", "stall", "test")
    report = backup(engine, tmp_path, tmp_path / "config", tmp_path / "copies")
    copy = DeviceRegistry(open_store(f"sqlite:///{report.folder / 'kiosk.db'}"))
    assert copy.check(info.id, token).device == info


def test_migration_0004_counts_the_existing_history_by_local_hour(tmp_path: Path) -> None:
    """A database with locker history from before the hourly counts gets them from its history."""
    from datetime import datetime

    from alembic import command
    from sqlalchemy import text

    from kiosk.store.db import alembic_config, open_engine
    from kiosk.store.lockers import LockerDesk

    engine = open_engine(f"sqlite:///{tmp_path / 'k.db'}")
    command.upgrade(alembic_config(engine), "0003")
    at = datetime(2026, 11, 2, 9, 15).timestamp()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO lockers VALUES (1, 'A', 0, '')"))
        connection.execute(text("INSERT INTO members VALUES ('CS2021001', 'R', 'CS', 0)"))
        for offset, kind in ((0, "exit"), (600, "force")):
            connection.execute(text(
                "INSERT INTO locker_assignments (locker, member, assigned_at, due_at, assigned_by, released_at, "
                "release_kind) VALUES (1, 'CS2021001', :at, :at, 'x', :done, :kind)"),
                {"at": at + offset, "done": at + offset + 3600, "kind": kind})
    engine.dispose()
    figures = LockerDesk(open_store(f"sqlite:///{tmp_path / 'k.db'}")).statistics(at - 86400, at + 86400)
    assert figures.assignments == 2 and figures.forced == 1 and figures.per_hour[9] == 2
    assert figures.per_day == [("2026-11-02", 2)] and figures.average_duration_s == 3600
