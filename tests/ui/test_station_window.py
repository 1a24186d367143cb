"""A remote station's window against a real hub over loopback: its own token, the desk through the API, another
station's change shown within 200 ms, a vanished hub said at once, a restarted hub reattached by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.client.events import EventStream
from kiosk.client.http import ApiClient
from kiosk.client.lockers import RemoteLockers
from kiosk.client.session import RemoteOperators
from kiosk.config import Config
from kiosk.core.operators import Operator, Role
from kiosk.services.hub import Hub
from kiosk.store.models import AuditEntry
from kiosk.ui.station_window import StationWindow
from tests.helpers import RecordingEvents

ROOT = Operator("root", Role.ADMIN)


@pytest.fixture
def remote(hub: Hub, qtbot) -> Iterator[tuple[StationWindow, EventStream, ApiClient]]:
    for i in range(4):
        hub.lockers.add_member(f"AB{1000000 + i}", f"Member {i}", "Maths", ROOT)
    _, token = hub.registry.create("Desk 2", "station", "test")
    client = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}", token)
    window = StationWindow(client.base_url, RemoteLockers(client), RemoteOperators(client))
    qtbot.addWidget(window)
    stream = EventStream(client.websocket_target, window.events.event.emit, window.events.state.emit)
    stream.start()
    window.show()
    qtbot.waitUntil(lambda: window.lockers.ops is not None and window.refreshes >= 1, timeout=5000)
    yield window, stream, client
    stream.stop()
    client.close()


def test_the_station_desk_assigns_through_the_hub(hub: Hub, remote, qtbot) -> None:
    window, _, _ = remote
    assert window.connected and "Connected to the hub" in window.connection.text()
    desk = window.lockers.desk
    qtbot.keyClicks(desk.scan, "AB1000000")
    qtbot.keyClick(desk.scan, Qt.Key.Key_Return)
    assert desk.result_title.text() == "Locker assigned"
    number = int(desk.result_number.text())
    held = {a.locker: a.member for a in hub.lockers.active()}
    assert held == {number: "AB1000000"}
    with Session(hub.engine) as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "locker.assign")))
    assert actors == {"front desk (Desk 2)"}, "the audit log names the station that assigned"


def test_another_stations_change_shows_within_200_ms(hub: Hub, remote, qtbot) -> None:
    window, _, _ = remote
    other = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}",
                      hub.registry.create("Desk 3", "station", "test")[1])
    try:
        before = window.refreshes
        done = RemoteLockers(other).assign("AB1000001")
        started = time.perf_counter()  # the change is made: the other station has its answer
        qtbot.waitUntil(lambda: any(s.number == done.locker and s.member == "AB1000001"
                                    for s in window.lockers.board), timeout=2000)
        elapsed = time.perf_counter() - started
    finally:
        other.close()
    assert window.refreshes > before
    assert elapsed < 0.2, f"the other station's change took {elapsed * 1000:.0f} ms more to show here"


def test_a_vanished_hub_is_said_at_once_and_a_restarted_one_reattached(hub: Hub, config: Config, remote,
                                                                       qtbot) -> None:
    window, stream, _ = remote
    first_hub = window.hub_id
    hub.stop()
    qtbot.waitUntil(lambda: not window.connected, timeout=3000)
    assert "cannot be reached" in window.connection.text()
    assert window.banner.isVisible() and "Scans are not recorded" in window.banner.text()
    assert "stopping" in window.connection.text() or "not running" in window.connection.text()
    again = Hub(config, RecordingEvents())
    again.start()
    try:
        qtbot.waitUntil(lambda: window.connected and window.hub_id not in (None, first_hub), timeout=10000)
        assert not window.banner.isVisible()
        desk = window.lockers.desk
        qtbot.keyClicks(desk.scan, "AB1000002")
        qtbot.keyClick(desk.scan, Qt.Key.Key_Return)
        assert desk.result_title.text() == "Locker assigned"
    finally:
        stream.stop()
        again.stop()


def test_a_station_process_loads_no_server_parts() -> None:
    """A remote station's process: the window and the client, and none of SQLAlchemy, aiohttp or amqtt."""
    import subprocess
    import sys

    probe = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import kiosk.app\n"
        "from kiosk.client.events import EventStream\n"
        "from kiosk.client.http import ApiClient\n"
        "from kiosk.client.lockers import RemoteLockers\n"
        "from kiosk.client.session import RemoteOperators\n"
        "from kiosk.ui.station_window import StationWindow\n"
        "client = ApiClient('http://127.0.0.1:9', 'token')\n"
        "window = StationWindow(client.base_url, RemoteLockers(client), RemoteOperators(client))\n"
        "window.show(); app.processEvents()\n"
        "print(sorted(m for m in ('sqlalchemy', 'aiohttp', 'amqtt', 'alembic', 'paho') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"a station loaded {result.stdout.strip()}"


def test_the_station_shows_energy_and_keeps_quiet_while_the_hub_is_gone(hub: Hub, qtbot) -> None:
    from kiosk.client.energy import RemoteEnergy

    info, _ = hub.registry.create("Meter 1", "energy", "test")
    port = hub.energy_store.add_port(info.id, "Printer", "test")
    _, token = hub.registry.create("Desk 2", "station", "test")
    client = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}", token)
    energy = RemoteEnergy(client)
    window = StationWindow(client.base_url, RemoteLockers(client), RemoteOperators(client), energy_ops=energy)
    qtbot.addWidget(window)
    stream = EventStream(client.websocket_target, window.events.event.emit, window.events.state.emit)
    stream.start()
    try:
        window.show()
        qtbot.waitUntil(lambda: window.energy.ops is not None, timeout=5000)
        window.tabs.setCurrentWidget(window.energy)
        qtbot.waitUntil(lambda: [r["id"] for r in window.energy.model.rows] == [port.id], timeout=5000)
        assert window.energy.model.rows[0]["device"] == "Meter 1"
        hub.stop()
        qtbot.waitUntil(lambda: not window.connected, timeout=3000)
        polls = energy.unreachable
        qtbot.waitUntil(lambda: energy.unreachable > polls + 1, timeout=5000)
        assert [r["id"] for r in window.energy.model.rows] == [port.id], "the last known ports stay on screen"
    finally:
        stream.stop()
        client.close()


def test_the_station_edits_restrooms_as_an_admin_and_tiles_follow_devices(hub: Hub, qtbot) -> None:
    import json as json_

    from kiosk.client.stalls import RemoteStalls, tiles_of
    from kiosk.core.stalls import SensorRole, StallState
    from kiosk.store.operators import OperatorDirectory
    from tests.helpers import connect

    OperatorDirectory(hub.engine).add("root", Role.ADMIN, "correct horse", None)
    sensor, sensor_token = hub.registry.create("Door W-1", "stall", "test")
    hub.device_added(sensor)
    _, token = hub.registry.create("Desk 2", "station", "test")
    client = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}", token)
    stalls = RemoteStalls(client)
    operators = RemoteOperators(client)
    window = StationWindow(client.base_url, RemoteLockers(client), operators, stall_ops=stalls, tiles_of=tiles_of)
    qtbot.addWidget(window)
    stream = EventStream(client.websocket_target, window.events.event.emit, window.events.state.emit)
    stream.start()
    device = None
    try:
        window.show()
        qtbot.waitUntil(lambda: window.stalls.ops is not None, timeout=5000)
        with pytest.raises(PermissionError):
            stalls.add_restroom("West", "Ground")
        operators.sign_in("root", "correct horse")
        restroom = stalls.add_restroom("West", "Ground")
        stall = stalls.add_stall(restroom, "W-1")
        stalls.assign(sensor.id, stall, SensorRole.DOOR)
        qtbot.waitUntil(lambda: stall in window.stalls.places, timeout=3000)
        assert [r.name for r in stalls.restrooms()] == ["West"]
        device = connect(hub.config["broker.port"], sensor.id, sensor_token)
        device.publish(f"devices/{sensor.id}/datastream", json_.dumps({"door": "closed"}))
        qtbot.waitUntil(lambda: any(v.stall_id == stall and v.state is not StallState.NO_SIGNAL
                                    for _, v in stalls.tiles()), timeout=5000)
        assert stalls.device(sensor.id) is not None and stalls.device("nobody") is None
    finally:
        if device is not None:
            device.close()
        stream.stop()
        client.close()


def test_staff_sign_in_at_the_desk_and_their_scans_carry_their_name(hub: Hub, remote, qtbot) -> None:
    """Before, staff accounts had no use in a desk window: every desk action was "front desk"."""
    from kiosk.store.operators import OperatorDirectory
    from kiosk.ui.lockers.desk_staff import DeskSignInDialog

    directory = OperatorDirectory(hub.engine)
    directory.add("root", Role.ADMIN, "correct horse", None)
    directory.add("priya", Role.STAFF, "desk pass 42", ROOT)
    window, _, _ = remote
    desk = window.lockers.desk
    staff = desk.staff
    assert staff.isVisible() and staff.label.text() == "At the desk: front desk"
    qtbot.mouseClick(staff.button, Qt.MouseButton.LeftButton)
    dialog = staff.dialog
    assert isinstance(dialog, DeskSignInDialog) and dialog.isVisible()
    qtbot.keyClicks(dialog.name, "priya")
    qtbot.keyClicks(dialog.password, "wrong")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert "Wrong name or password" in dialog.error.text() and dialog.isVisible()
    qtbot.keyClicks(dialog.password, "desk pass 42")
    with qtbot.waitSignal(staff.changed) as changed:
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert changed.args == ["priya"] and staff.label.text() == "At the desk: priya"
    assert staff.button.text().replace("&", "") == "Sign out"
    desk.scan.setFocus()
    qtbot.keyClicks(desk.scan, "AB1000000")
    qtbot.keyClick(desk.scan, Qt.Key.Key_Return)
    assert desk.result_title.text() == "Locker assigned"
    qtbot.mouseClick(staff.button, Qt.MouseButton.LeftButton)
    assert staff.label.text() == "At the desk: front desk"
    qtbot.keyClicks(desk.scan, "AB1000001")
    qtbot.keyClick(desk.scan, Qt.Key.Key_Return)
    with Session(hub.engine) as session:
        actors = list(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "locker.assign")
                                      .order_by(AuditEntry.id)))
    assert actors == ["priya", "front desk (Desk 2)"]


def test_a_desk_sign_in_that_ran_out_is_said_and_the_desk_goes_on(hub: Hub, remote, qtbot) -> None:
    from kiosk.store.operators import OperatorDirectory

    directory = OperatorDirectory(hub.engine)
    directory.add("root", Role.ADMIN, "correct horse", None)
    directory.add("priya", Role.STAFF, "desk pass 42", ROOT)
    window, _, client = remote
    desk = window.lockers.desk
    desk.staff.signin.sign_in("priya", "desk pass 42")
    desk.staff.check()
    assert desk.staff.label.text() == "At the desk: priya"
    client.desk_used_at -= desk.staff.signin.idle_s + 1  # two hours without a desk change
    qtbot.keyClicks(desk.scan, "AB1000002")
    qtbot.keyClick(desk.scan, Qt.Key.Key_Return)
    assert desk.result_title.text() == "Locker assigned"
    assert desk.staff.label.text() == "At the desk: front desk (signed out after 2 h without a desk action)"
    with Session(hub.engine) as session:
        actors = list(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "locker.assign")))
    assert actors == ["front desk (Desk 2)"], "the screen showed nobody, and the log names nobody"
