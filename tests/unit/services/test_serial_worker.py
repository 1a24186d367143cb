"""The serial worker with a scripted port: flood limit, unplug, and a port that cannot be opened."""

import threading
from typing import Any

from kiosk.protocol.payloads import Rejected
from kiosk.protocol.serial_lines import SerialReading
from kiosk.services.serial_worker import SerialWorker, parse_usb_ids
from tests.helpers import wait_for


class ScriptedPort:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = threading.Event()

    def read(self, _size: int) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        raise OSError(5, "Input/output error")  # what an unplugged USB board gives

    def close(self) -> None:
        self.closed.set()


def test_a_flooding_board_is_limited_and_an_unplug_closes_the_port(tmp_path: Any) -> None:
    path = tmp_path / "ttyFLOOD"
    path.write_text("")
    got: list[Any] = []
    flood = b"".join(b'{"voltage": 230, "current": 0.1, "power": 23, "seq": %d}\n' % i for i in range(300))
    port = ScriptedPort([flood, b"\xff\xff\n"])
    worker = SerialWorker((str(path),), (), 9600, lambda key, p, m: got.append(m), scan_every_s=60,
                          max_lines_per_s=100, opener=lambda p, baud: port, clock=lambda: 0.0)
    worker.start()
    try:
        wait_for(lambda: port.closed.is_set())
        stats = worker.stats()[0]
        assert stats.flood_dropped == 201 and stats.lines == 100 and not stats.open  # the garbage line too
        assert "unplugged" in (stats.last_error or "")
        assert sum(isinstance(m, SerialReading) for m in got) == 100
        assert not any(isinstance(m, Rejected) for m in got)
    finally:
        worker.stop()


def test_a_port_that_cannot_be_opened_is_reported_and_retried(tmp_path: Any) -> None:
    path = tmp_path / "ttyBUSY"
    path.write_text("")
    attempts: list[str] = []

    def busy(p: str, baud: int) -> Any:
        attempts.append(p)
        raise OSError(16, "Device or resource busy")

    worker = SerialWorker((str(path),), (), 9600, lambda *a: None, scan_every_s=0.05, opener=busy)
    worker.start()
    try:
        wait_for(lambda: len(attempts) >= 2)
        assert "busy" in (worker.stats()[0].last_error or "")
    finally:
        worker.stop()


def test_usb_ids_parse_or_say_which_is_wrong() -> None:
    import pytest

    assert parse_usb_ids("2341:0043, 1a86:7523") == ((0x2341, 0x43), (0x1A86, 0x7523))
    assert parse_usb_ids("") == ()
    with pytest.raises(ValueError, match="'arduino'"):
        parse_usb_ids("2341:0043,arduino")
