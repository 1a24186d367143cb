"""USB-serial boards through a pseudo-terminal: the hub opens it like a real board, reads, survives garbage and an
unplug, and re-opens the board when it is back."""

import json
import os
import pty
import tty
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config import Config
from kiosk.services.hub import Hub
from kiosk.store.models import DeviceRejection
from tests.helpers import RecordingEvents, wait_for


class Board:
    """A virtual Arduino: a pty whose far end the hub opens through a stable path (a symlink, as udev makes)."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.plug()

    def plug(self) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.slave_path = os.ttyname(slave)
        os.close(slave)
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(self.slave_path)

    def unplug(self) -> None:
        self.link.unlink()
        os.close(self.master)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def line(self, body: dict[str, Any]) -> None:
        self.send(json.dumps(body).encode() + b"\r\n")


@pytest.fixture
def board(tmp_path: Path) -> Any:
    board = Board(tmp_path / "ttyKIOSK0")
    yield board
    try:
        os.close(board.master)
    except OSError:
        pass


@pytest.fixture
def serial_hub(config: Config, board: Board) -> Any:
    hub = Hub(config.with_overrides(serial__ports=str(board.link), serial__usb_ids=""), RecordingEvents())
    hub.serial._scan_every_s = 0.2  # type: ignore[union-attr]
    hub.start()
    yield hub
    hub.stop()


def powers(hub: Hub, device_id: str) -> list[float]:
    hub.writer.flush()
    return [p for port in hub.energy_store.ports(device_id) for _, p in hub.energy_store.readings(port.id, 0, 4e9)]


def test_a_board_says_hello_sends_readings_and_garbage_is_counted(serial_hub: Hub, board: Board) -> None:
    wait_for(lambda: any(s.open for s in serial_hub.serial.stats()))  # type: ignore[union-attr]
    board.line({"hello": "kiosk-energy", "board": "A1B2C3", "firmware": "1.0.3"})
    board.send(b'{"voltage": 230.0, "current": 0.45, ')  # a line cut across two reads
    board.send(b'"power": 103.5, "seq": 1}\r\n')
    board.send(b"\xff\xfe garbage from a wrong baud rate\r\n")
    board.line({"voltage": 230.0, "current": 0.45, "power": 999.0, "seq": 2})  # power disagrees: refused
    board.send(b"# channel calibrated\r\n")  # the board's console answering a person: neither read nor refused
    board.line({"voltage": 231.0, "current": 0.5, "power": 115.5, "seq": 5})  # 3 and 4 were lost on the line
    device_id = "serial:A1B2C3"
    wait_for(lambda: powers(serial_hub, device_id) == [103.5, 115.5])
    stats = serial_hub.serial.stats()[0]  # type: ignore[union-attr]
    assert stats.board == "A1B2C3" and stats.lines == 6 and stats.lost == 2 and stats.comments == 1
    assert stats.rejected == {"not_json": 1}
    boards = serial_hub.registry.serial_boards()
    assert [(b[0], b[1], b[3]) for b in boards] == [("A1B2C3", device_id, "1.0.3")]
    with Session(serial_hub.engine) as session:
        reasons = {r.reason: r.count for r in session.scalars(select(DeviceRejection).where(
            DeviceRejection.device_id == device_id))}
    assert reasons == {"not_json": 1, "out_of_range": 1}
    snap = serial_hub.ingest.tracker.get(device_id)
    assert snap is not None and snap.received == 2
    _healthy, body = serial_hub.health()  # what GET /api/v1/health shows about the boards
    [port] = body["device_worker"]["serial"]
    assert (port["board"], port["open"], port["lost"], port["rejected"]) == ("A1B2C3", True, 2, {"not_json": 1})


def test_an_unplugged_board_is_reopened_when_it_is_back(serial_hub: Hub, board: Board) -> None:
    wait_for(lambda: any(s.open for s in serial_hub.serial.stats()))  # type: ignore[union-attr]
    board.line({"hello": "kiosk-energy", "board": "B7"})
    board.line({"voltage": 230.0, "current": 0.1, "power": 23.0})
    wait_for(lambda: powers(serial_hub, "serial:B7") == [23.0])
    board.unplug()
    wait_for(lambda: not serial_hub.serial.stats()[0].open)  # type: ignore[union-attr]
    board.plug()
    wait_for(lambda: serial_hub.serial.stats()[0].open and serial_hub.serial.stats()[0].opens == 2,  # type: ignore
             timeout=10)
    board.line({"hello": "kiosk-energy", "board": "B7"})
    board.line({"voltage": 230.0, "current": 0.2, "power": 46.0})
    wait_for(lambda: powers(serial_hub, "serial:B7") == [23.0, 46.0])


def test_an_admin_maps_a_board_to_the_meter_registered_for_its_room(serial_hub: Hub, board: Board) -> None:
    wait_for(lambda: any(s.open for s in serial_hub.serial.stats()))  # type: ignore[union-attr]
    board.line({"hello": "kiosk-energy", "board": "C9"})
    board.line({"voltage": 230.0, "current": 0.1, "power": 23.0})
    wait_for(lambda: powers(serial_hub, "serial:C9") == [23.0])
    room, _ = serial_hub.registry.create("Reading room meter", "energy", "test")
    serial_hub.registry.map_serial_board("C9", room.id, "admin")
    serial_hub.serial_intake.forget_mappings()  # what the hub's 5 s check does
    board.line({"voltage": 230.0, "current": 0.2, "power": 46.0})
    wait_for(lambda: powers(serial_hub, room.id) == [46.0])
    assert powers(serial_hub, "serial:C9") == [23.0]


def test_a_locked_database_does_not_hold_up_new_boards_or_new_ports(serial_hub: Hub, board: Board) -> None:
    """Issue 13: a new port or board was written on the reader's own thread; with the database locked each such
    line blocked it for the 5 s busy timeout and some were lost with tracebacks."""
    import sqlite3
    import time

    wait_for(lambda: any(s.open for s in serial_hub.serial.stats()))  # type: ignore[union-attr]
    blocker = sqlite3.connect(serial_hub.config.data_dir / "kiosk.db", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        board.line({"hello": "kiosk-energy", "board": "LOCKED1", "firmware": "1.0.0"})
        for n, port in enumerate(("1", "2", "3")):  # three channels: three new ports
            board.line({"port": port, "voltage": 230.0, "current": 0.1, "power": 23.0 + n})
        wait_for(lambda: serial_hub.ingest.accepted == 3, timeout=3)
        assert time.monotonic() - started < 2.0  # not one 5 s busy timeout
        assert serial_hub.writer.backlog() > 0  # waiting for the database, in the writer
    finally:
        blocker.rollback()
        blocker.close()
    assert sorted(powers(serial_hub, "serial:LOCKED1")) == [23.0, 24.0, 25.0]
    assert {p.channel for p in serial_hub.energy_store.ports("serial:LOCKED1")} == {"1", "2", "3"}


def test_lines_before_the_hello_belong_to_the_board_that_says_it(serial_hub: Hub, board: Board) -> None:
    """A board already running when the port opens sends readings before its hello: they wait for it, and the
    board is one device (today's demo USB board was two, a dead "path-..." one and the real one)."""
    wait_for(lambda: any(s.open for s in serial_hub.serial.stats()))  # type: ignore[union-attr]
    board.line({"voltage": 230.0, "current": 0.45, "power": 103.5, "seq": 7})
    board.line({"voltage": 230.0, "current": 0.5, "power": 115.0, "seq": 8})
    board.line({"hello": "kiosk-energy", "board": "C9", "firmware": "1.0.3"})
    board.line({"voltage": 230.0, "current": 0.5, "power": 116.0, "seq": 9})
    wait_for(lambda: powers(serial_hub, "serial:C9") == [103.5, 115.0, 116.0])
    assert [b[0] for b in serial_hub.registry.serial_boards()] == ["C9"]
    assert serial_hub.registry.get(f"serial:path-{board.link.name}") is None


def test_a_board_that_never_says_hello_is_named_by_its_port(serial_hub: Hub, board: Board,
                                                             monkeypatch: Any) -> None:
    import kiosk.services.serial_worker as worker

    monkeypatch.setattr(worker, "HELLO_WAIT_S", 0.5)
    wait_for(lambda: any(s.open for s in serial_hub.serial.stats()))  # type: ignore[union-attr]
    board.line({"voltage": 230.0, "current": 0.45, "power": 103.5, "seq": 1})  # then silence: no hello, no line
    device_id = f"serial:path-{board.link.name}"
    wait_for(lambda: powers(serial_hub, device_id) == [103.5], timeout=5)
