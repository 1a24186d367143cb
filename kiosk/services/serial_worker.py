"""USB-serial boards: found, opened, read line by line, re-opened after an unplug; never a crash.

A scan thread looks every `scan_every_s` for boards: the paths in `serial.ports` (explicit, e.g. `/dev/ttyUSB0`),
every entry of the data folder's `serial/` directory (links: a udev rule's, or `kiosk simulate`'s virtual board),
and any USB serial port whose vendor:product id is in `serial.usb_ids` (Arduino Uno, CH340 and FTDI clones by
default). Each open port gets a reader thread that frames and parses lines
(kiosk.protocol.serial_lines) and hands every message to `deliver(board_key, path, message)`; a read error
(unplugged) closes the port and the next scan re-opens it when it is back.

A board is known by, in this order: the id in its hello line, its USB serial number, its device path. Lines beyond
`max_lines_per_s` in a second are dropped and counted (a flooding board must not starve the others).

The counts per port (lines, rejected by reason, overlong, dropped by the flood limit, lost by sequence, re-opens,
last error) are in `stats()`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kiosk.protocol.payloads import Rejected
from kiosk.protocol.serial_lines import Comment, Hello, LineFramer, SequenceWatch, parse_line

log = logging.getLogger(__name__)
SERIAL_LINKS_DIR = "serial"  # in the data folder: each entry is a serial port to open
# A port without a USB serial number is named by its board's hello line. Lines read before the hello (a board
# that was already running when the port opened, or the first lines after a reset) wait for it, for at most this
# many lines or seconds (two reports of a board reporting every 5 s), then count as the port's own board
# ("path-ttyACM0"): one board is one device, not one device for the lines before its hello and another after it.
HELLO_WAIT_LINES = 20
HELLO_WAIT_S = 12.0


@dataclass
class _Naming:
    """Whose lines a port's reader delivers, and what waits for the board's hello."""

    key: str
    named: bool  # the key is the board's own (a USB serial number or its hello), or the wait is over
    opened_at: float
    waiting: list[Any] = field(default_factory=list)


def parse_usb_ids(text: str) -> tuple[tuple[int, int], ...]:
    """`"2341:0043, 1a86:7523"` -> ((0x2341, 0x43), (0x1a86, 0x7523)); ValueError says which entry is wrong."""
    ids = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            vendor, product = part.split(":")
            ids.append((int(vendor, 16), int(product, 16)))
        except ValueError:
            raise ValueError(f"{part!r} is not a USB id like 2341:0043") from None
    return tuple(ids)


@dataclass(frozen=True)
class PortStats:
    path: str
    board: str
    open: bool = False
    lines: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    overlong: int = 0
    flood_dropped: int = 0
    lost: int = 0
    comments: int = 0  # lines starting with '#': the board's console talking to a person (not readings, not refused)
    opens: int = 0
    last_error: str | None = None


class SerialWorker:
    def __init__(self, paths: tuple[str, ...], usb_ids: tuple[tuple[int, int], ...], baud: int,
                 deliver: Callable[[str, str, Any], None], scan_every_s: float = 2.0, max_lines_per_s: int = 100,
                 opener: Callable[..., Any] | None = None, clock: Callable[[], float] = time.monotonic,
                 watch_dir: str | None = None) -> None:
        self._paths = paths
        self._watch_dir = watch_dir  # every entry in it is a port too (links made by udev rules or the simulator)
        self._usb_ids = usb_ids
        self._baud = baud
        self._deliver = deliver
        self._scan_every_s = scan_every_s
        self._max_lines = max_lines_per_s
        self._opener = opener
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._readers: dict[str, threading.Thread] = {}
        self._stats: dict[str, PortStats] = {}
        self._scanner: threading.Thread | None = None
        self.scanned = threading.Event()  # set after each scan (tests wait on it)

    def start(self) -> None:
        self._scanner = threading.Thread(target=self._scan_forever, name="serial-scan", daemon=True)
        self._scanner.start()

    def stop(self) -> None:
        self._stop.set()
        if self._scanner is not None:
            self._scanner.join(5)
        for thread in list(self._readers.values()):
            thread.join(5)

    def stats(self) -> list[PortStats]:
        with self._lock:
            return sorted(self._stats.values(), key=lambda s: s.path)

    def _note(self, path: str, **changes: Any) -> None:
        with self._lock:
            current = self._stats.get(path) or PortStats(path, path)
            self._stats[path] = replace(current, **changes)

    def _count(self, path: str, name: str, amount: int = 1) -> None:
        with self._lock:
            current = self._stats[path]
            self._stats[path] = replace(current, **{name: getattr(current, name) + amount})

    # --- discovery ------------------------------------------------------------------------------------------------

    def candidates(self) -> dict[str, str | None]:
        """Paths to open now, with their USB serial number when the system knows it."""
        paths = list(self._paths)
        if self._watch_dir and os.path.isdir(self._watch_dir):
            paths += sorted(os.path.join(self._watch_dir, name) for name in os.listdir(self._watch_dir))
        found: dict[str, str | None] = {path: None for path in paths if os.path.exists(path)}
        if self._usb_ids:
            try:
                from serial.tools import list_ports

                for info in list_ports.comports():
                    if (info.vid, info.pid) in self._usb_ids:
                        found[info.device] = info.serial_number
            except Exception as exc:  # a broken udev or sysfs must not stop the explicit ports
                log.warning("serial: listing USB ports failed: %s", exc)
        return found

    def _scan_forever(self) -> None:
        while not self._stop.is_set():
            try:
                for path, serial_number in self.candidates().items():
                    with self._lock:
                        running = path in self._readers and self._readers[path].is_alive()
                    if not running:
                        thread = threading.Thread(target=self._read_port, args=(path, serial_number),
                                                  name=f"serial-{os.path.basename(path)}", daemon=True)
                        with self._lock:
                            self._readers[path] = thread
                        thread.start()
            except Exception:
                log.exception("serial: scan failed; trying again")
            self.scanned.set()
            self._stop.wait(self._scan_every_s)

    # --- reading --------------------------------------------------------------------------------------------------

    def _open(self, path: str) -> Any:
        if self._opener is not None:
            return self._opener(path, self._baud)
        import serial

        return serial.Serial(path, self._baud, timeout=0.25)

    def _read_port(self, path: str, serial_number: str | None) -> None:
        key = serial_number or f"path-{os.path.basename(path)}"
        try:
            port = self._open(path)
        except Exception as exc:  # SerialException, OSError (busy, no permission, gone again)
            self._note(path, open=False, last_error=f"cannot open: {exc}")
            log.warning("serial: cannot open %s: %s", path, exc)
            return
        with self._lock:
            opens = (self._stats[path].opens if path in self._stats else 0) + 1
        self._note(path, board=key, open=True, opens=opens, last_error=None)
        log.info("serial: reading %s (board %s, %d baud)", path, key, self._baud)
        framer, sequence = LineFramer(), SequenceWatch()
        naming = _Naming(key, named=serial_number is not None, opened_at=self._clock())
        window_start, in_window = self._clock(), 0
        try:
            while not self._stop.is_set():
                try:
                    data = port.read(4096)
                except Exception as exc:  # unplugged: SerialException / OSError
                    self._note(path, open=False, last_error=f"read failed (unplugged?): {exc}")
                    log.warning("serial: %s went away: %s; will re-open when it is back", path, exc)
                    return
                if not data:
                    if not naming.named and self._clock() - naming.opened_at >= HELLO_WAIT_S:
                        self._settle(path, naming)  # a quiet board that never says hello: its lines go now
                    continue
                before = framer.overlong
                lines = framer.feed(data)
                if framer.overlong > before:
                    self._count(path, "overlong", framer.overlong - before)
                now = self._clock()
                if now - window_start >= 1.0:
                    window_start, in_window = now, 0
                room = max(0, self._max_lines - in_window)
                if len(lines) > room:
                    self._count(path, "flood_dropped", len(lines) - room)
                    lines = lines[:room]
                in_window += len(lines)
                for line in lines:
                    self._handle(path, naming, line, sequence)
        finally:
            self._settle(path, naming)  # unplugged before its hello: what waited is the port's own board's
            try:
                port.close()
            except Exception:
                pass
            self._note(path, open=False)

    def _handle(self, path: str, naming: _Naming, line: bytes, sequence: SequenceWatch) -> None:
        self._count(path, "lines")
        try:
            message: Any = parse_line(line)
        except Rejected as exc:
            with self._lock:
                current = self._stats[path]
                rejected = dict(current.rejected)
                rejected[exc.reason.value] = rejected.get(exc.reason.value, 0) + 1
                self._stats[path] = replace(current, rejected=rejected)
            message = exc
        else:
            if isinstance(message, Comment):
                self._count(path, "comments")
                log.debug("serial %s says: %s", path, message.text)
                return
            if isinstance(message, Hello):
                naming.key = message.board
                self._note(path, board=naming.key)
                self._send(path, naming.key, message)
                self._settle(path, naming)
                return
            lost = sequence.see(message.seq)
            if lost:
                self._count(path, "lost", lost)
        if not naming.named:
            naming.waiting.append(message)
            if len(naming.waiting) < HELLO_WAIT_LINES and self._clock() - naming.opened_at < HELLO_WAIT_S:
                return
            self._settle(path, naming)
            return
        self._send(path, naming.key, message)

    def _settle(self, path: str, naming: _Naming) -> None:
        """The board's name is known (its hello came, or the wait is over): what waited goes to it, in order."""
        naming.named = True
        waiting, naming.waiting = naming.waiting, []
        for message in waiting:
            self._send(path, naming.key, message)

    def _send(self, path: str, key: str, message: Any) -> None:
        try:
            self._deliver(key, path, message)
        except Exception:
            log.exception("serial: a line from %s could not be delivered", path)
