from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kiosk.store.db import backup, open_store
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
    target = backup(engine, tmp_path / "copies")
    copy = DeviceRegistry(open_store(f"sqlite:///{target}"))
    assert copy.check(info.id, token).device == info
