from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kiosk.store.db import open_store
from kiosk.store.devices import DeviceNotFound, DeviceRegistry, LoginFailure
from kiosk.store.models import DeviceToken


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(tmp_path: Path) -> DeviceRegistry:
    return DeviceRegistry(open_store(f"sqlite:///{tmp_path / 'k.db'}"), Clock())


def test_a_new_device_logs_in_with_its_token_only(registry: DeviceRegistry) -> None:
    info, token = registry.create("Stall W-2", "stall", "test")
    assert registry.check(info.id, token).device == info
    assert registry.check(info.id, token + "x").failure is LoginFailure.BAD_TOKEN
    assert registry.check("no-such-id", token).failure is LoginFailure.UNKNOWN_DEVICE
    assert registry.check(info.id, None).failure is LoginFailure.NO_CREDENTIALS
    assert registry.check(None, None).failure is LoginFailure.NO_CREDENTIALS


def test_only_a_hash_of_the_token_is_stored(registry: DeviceRegistry, tmp_path: Path) -> None:
    _info, token = registry.create("Stall W-2", "stall", "test")
    raw = (tmp_path / "k.db").read_bytes() + (tmp_path / "k.db-wal").read_bytes()
    assert token.encode() not in raw


def test_rotation_replaces_the_old_token(registry: DeviceRegistry) -> None:
    info, old = registry.create("Meter", "energy", "test")
    new = registry.rotate(info.id, "admin")
    assert registry.check(info.id, old).failure is LoginFailure.BAD_TOKEN
    assert registry.check(info.id, new).device is not None


def test_expired_and_revoked_tokens_are_refused(registry: DeviceRegistry) -> None:
    clock = registry._clock
    info, token = registry.create("Meter", "energy", "test", expires_at=clock() + 60)
    assert registry.check(info.id, token).device is not None
    assert registry.still_valid([info.id]) == {info.id}
    clock.now += 61  # type: ignore[attr-defined]
    assert registry.check(info.id, token).failure is LoginFailure.EXPIRED
    assert registry.still_valid([info.id]) == set()
    other, other_token = registry.create("Stall", "stall", "test")
    registry.revoke(other.id, "admin")
    assert registry.check(other.id, other_token).failure is LoginFailure.REVOKED
    assert registry.get(other.id).revoked


def test_unknown_ids_raise_a_clear_error(registry: DeviceRegistry) -> None:
    with pytest.raises(DeviceNotFound, match="no device with id nope"):
        registry.revoke("nope", "admin")


def test_every_change_is_audited_without_secrets(registry: DeviceRegistry) -> None:
    info, token = registry.create("Stall W-2", "stall", "cli:alice")
    new = registry.rotate(info.id, "cli:alice")
    registry.revoke(info.id, "cli:bob")
    rows = registry.audit()
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("cli:alice", "device.create", info.id), ("cli:alice", "device.token.rotate", info.id),
        ("cli:bob", "device.revoke", info.id)]
    assert all(token not in r.detail and new not in r.detail for r in rows)


def test_database_runs_in_wal_mode(registry: DeviceRegistry) -> None:
    with registry._engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_token_rows_keep_history(registry: DeviceRegistry) -> None:
    info, _ = registry.create("Meter", "energy", "test")
    registry.rotate(info.id, "admin")
    with Session(registry._engine) as session:
        rows = session.scalars(select(DeviceToken).where(DeviceToken.device_id == info.id)).all()
    assert len(rows) == 2 and sum(r.revoked_at is None for r in rows) == 1


def test_device_logs_keep_the_newest_lines_per_device(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry
    from kiosk.store.models import DeviceLog

    registry = DeviceRegistry(open_store(f"sqlite:///{tmp_path / 'k.db'}"))
    with registry.engine.begin() as connection:
        connection.execute(insert(DeviceLog), [{"device_id": device, "ts": float(n), "level": "info",
                                               "text": f"{device} line {n}"}
                                              for device, count in (("chatty", 25), ("quiet", 3))
                                              for n in range(count)])
    assert registry.prune_logs(keep_per_device=10) == 15
    assert [text for _, _, text in registry.device_logs("chatty", limit=3)] == \
        ["chatty line 24", "chatty line 23", "chatty line 22"]
    assert len(registry.device_logs("chatty")) == 10 and len(registry.device_logs("quiet")) == 3
    assert registry.prune_logs(keep_per_device=10) == 0


def test_a_board_stored_while_the_cap_is_counted_is_counted_once(registry: DeviceRegistry) -> None:
    """The hub stores a new legacy board (admitted, not stored yet) between the registry's reads: it must count in
    the pending boards one way or the other, or the cap lets one more in."""
    from sqlalchemy import event

    from kiosk.store.devices import LegacyAdmission

    engine = registry.engine
    for name in ("A",):
        _info, rows = registry.discovered_legacy(name)
        with engine.begin() as connection:
            for table, row in rows:
                connection.execute(table.insert().values(**row))
    _info, rows_x = registry.discovered_legacy("X")
    stored = []

    def store_x_after_the_pending_count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not stored and "stall_sensors" in statement:
            stored.append(True)
            with engine.connect() as other:  # the hub's writer, meanwhile
                for table, row in rows_x:
                    other.execute(table.insert().values(**row))
                other.commit()

    event.listen(engine, "after_cursor_execute", store_x_after_the_pending_count)
    try:
        admission, still_new = registry.legacy_admission("Y", "10.0.0.9", 2, frozenset({"X"}))
    finally:
        event.remove(engine, "after_cursor_execute", store_x_after_the_pending_count)
    assert stored and admission is LegacyAdmission.FULL  # A and X wait: no room for Y
