from pathlib import Path

import pytest
from sqlalchemy import insert

from kiosk.core.stalls import SensorRole
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry, legacy_device_id
from kiosk.store.models import StallEvent
from kiosk.store.stalls import StallDirectory, StallsError


@pytest.fixture
def store(tmp_path: Path):
    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    return DeviceRegistry(engine), StallDirectory(engine), engine


def test_restrooms_stalls_and_sensor_assignment(store) -> None:
    registry, stalls, _ = store
    room = stalls.add_restroom("West, ground floor", "G", "admin")
    one, two = stalls.add_stall(room, "1", "admin"), stalls.add_stall(room, "2", "admin")
    board, created = registry.ensure_legacy("Stall3")
    assert created and board.id == legacy_device_id("Stall3") and board.kind == "stallsense"
    assert registry.ensure_legacy("Stall3") == (board, False)
    registry.set_details(board.id, model="com.StallSense.DoorSensor", ip="10.0.0.7")
    assert [(s.device_id, s.model, s.ip) for s in stalls.pending()] == [(board.id, "com.StallSense.DoorSensor",
                                                                         "10.0.0.7")]
    stalls.assign(board.id, one, SensorRole.DOOR, "admin")
    assert stalls.pending() == []
    assert stalls.assignments() == [(board.id, one, SensorRole.DOOR)]
    [restroom] = stalls.restrooms()
    assert (restroom.name, restroom.floor, [s.label for s in restroom.stalls]) == ("West, ground floor", "G",
                                                                                    ["1", "2"])
    assert restroom.stalls[0].sensors[0].role is SensorRole.DOOR
    stalls.assign(board.id, two, SensorRole.DOOR, "admin")  # moving a sensor
    assert stalls.assignments() == [(board.id, two, SensorRole.DOOR)]
    actions = [e.action for e in registry.audit()]
    assert actions.count("stall.sensor.assign") == 2 and "restroom.add" in actions


def test_clear_errors_for_impossible_changes(store) -> None:
    registry, stalls, _ = store
    room = stalls.add_restroom("East", "1", "admin")
    with pytest.raises(StallsError, match="already a restroom"):
        stalls.add_restroom(" East ", "2", "admin")
    with pytest.raises(StallsError, match="needs a name"):
        stalls.add_restroom("  ", "2", "admin")
    stall = stalls.add_stall(room, "1", "admin")
    with pytest.raises(StallsError, match="already has a stall"):
        stalls.add_stall(room, "1", "admin")
    a, _ = registry.ensure_legacy("A")
    b, _ = registry.ensure_legacy("B")
    stalls.assign(a.id, stall, SensorRole.DOOR, "admin")
    with pytest.raises(StallsError, match="already has a door sensor"):
        stalls.assign(b.id, stall, SensorRole.DOOR, "admin")
    registry.revoke(b.id, "admin")
    with pytest.raises(StallsError, match="revoked"):
        stalls.assign(b.id, stall, SensorRole.THERMAL, "admin")
    with pytest.raises(StallsError, match="no longer exists"):
        stalls.add_stall(999, "9", "admin")


def test_removing_a_restroom_makes_its_sensors_pending_again(store) -> None:
    registry, stalls, _ = store
    room = stalls.add_restroom("North", "2", "admin")
    stall = stalls.add_stall(room, "1", "admin")
    board, _ = registry.ensure_legacy("N1")
    stalls.assign(board.id, stall, SensorRole.THERMAL, "admin")
    stalls.remove_restroom(room, "admin")
    assert stalls.restrooms() == [] and [s.device_id for s in stalls.pending()] == [board.id]


def test_a_revoked_legacy_board_may_not_connect_and_is_not_fused(store) -> None:
    registry, stalls, _ = store
    assert registry.legacy_allowed("Brand-new")  # unknown boards connect and become pending
    room = stalls.add_restroom("South", "", "admin")
    stall = stalls.add_stall(room, "1", "admin")
    board, _ = registry.ensure_legacy("S1")
    stalls.assign(board.id, stall, SensorRole.DOOR, "admin")
    registry.revoke(board.id, "admin")
    assert not registry.legacy_allowed("S1")
    assert stalls.assignments() == []


def test_timeline_and_events_start_with_the_state_in_force(store) -> None:
    _, stalls, engine = store
    rows = [(1, 100.0, "vacant"), (1, 200.0, "occupied"), (1, 300.0, "vacant"), (2, 150.0, "no_signal")]
    with engine.begin() as connection:
        connection.execute(insert(StallEvent), [{"stall_id": s, "ts": t, "state": st, "reason": ""}
                                                for s, t, st in rows])
    assert [(t, s) for t, s, _ in stalls.timeline(1, 250, 400)] == [(250, "occupied"), (300.0, "vacant")]
    assert sorted(stalls.events(160, 400)) == [(1, 160, "vacant"), (1, 200.0, "occupied"), (1, 300.0, "vacant"),
                                               (2, 160, "no_signal")]


def test_an_operator_must_be_an_admin_to_change_restrooms_stalls_or_sensors(tmp_path: Path) -> None:
    """Issue 7: the role is checked where the change is made, whoever calls."""
    from kiosk.core.operators import Operator, Role

    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    directory = StallDirectory(engine)
    sensor, _ = DeviceRegistry(engine).create("Door W-1", "stall", "test")
    staff, admin = Operator("sam", Role.STAFF), Operator("ada", Role.ADMIN)
    room = directory.add_restroom("West", "0", admin)
    stall = directory.add_stall(room, "W-1", admin)
    for change in (lambda: directory.add_restroom("East", "0", staff),
                   lambda: directory.edit_restroom(room, "West wing", "0", staff),
                   lambda: directory.add_stall(room, "W-2", staff),
                   lambda: directory.assign(sensor.id, stall, SensorRole.DOOR, staff),
                   lambda: directory.remove_stall(stall, staff),
                   lambda: directory.remove_restroom(room, staff)):
        with pytest.raises(PermissionError, match="Only an admin"):
            change()
    assert [r.name for r in directory.restrooms()] == ["West"]
    directory.assign(sensor.id, stall, SensorRole.DOOR, admin)
    with pytest.raises(PermissionError):
        directory.unassign(sensor.id, staff)
    actors = {a.actor for a in DeviceRegistry(engine).audit() if a.action.startswith(("restroom", "stall"))}
    assert actors == {"ada"}
