"""USB-serial boards (Arduino energy meters): bytes -> lines -> messages. Pure; every oddity is a counted event.

A board prints one JSON object per line at 9600 baud (docs/protocol.md, "USB serial"):
- a reading: `{"voltage": 230.5, "current": 0.45, "power": 103.73}`, optionally with `"port"` (its channel) and
  `"seq"` (a counter, so that lost lines are noticed);
- a hello, at start-up: `{"hello": "kiosk-energy", "board": "A1B2C3", "firmware": "1.0.3"}`;
- a comment: a line starting with `#` (a board's answer to its calibration console, firmware/energy-board): kept out
  of the readings and the rejections.

What a serial line really carries, and what happens to it: a line cut in two reads waits for its end; `\\r\\n` or
`\\n` ends a line; a line longer than MAX_LINE_BYTES (a wrong baud rate produces endless garbage without newlines)
is dropped up to the next newline; bytes that are not UTF-8, noise, or JSON that is not a reading are rejected with
their reason. Nothing raises out of the framer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiosk.protocol.jsontext import JsonRefused, loads
from kiosk.protocol.payloads import Reason, Rejected

MAX_LINE_BYTES = 512
BOARD_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


@dataclass(frozen=True)
class Hello:
    board: str
    firmware: str | None


@dataclass(frozen=True)
class Comment:
    """A line for the person at the board's console, not for the hub (`# channel calibrated`)."""

    text: str


@dataclass(frozen=True)
class SerialReading:
    """A reading's fields, validated later by the ingest pipeline like any other road's (payloads.energy_reading)."""

    body: dict[str, Any]
    seq: int | None


class LineFramer:
    """Bytes in, complete lines out (without their line ending; empty lines are skipped)."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max = max_line
        self._buffer = bytearray()
        self._discarding = False
        self.overlong = 0  # lines dropped for being too long

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        self._buffer.extend(data)
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._max:
                    if not self._discarding:
                        self.overlong += 1
                    self._discarding = True
                    self._buffer.clear()
                return lines
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[:end + 1]
            if self._discarding:  # the tail of an overlong line
                self._discarding = False
                continue
            if len(line) > self._max:
                self.overlong += 1
                continue
            if line.strip():
                lines.append(line)


def parse_line(line: bytes) -> Hello | SerialReading | Comment:
    """One line from a board; raises Rejected (not UTF-8, not JSON, not a reading, hello or comment)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(Reason.NOT_JSON, f"not UTF-8 text ({len(line)} bytes): a wrong baud rate or noise") from None
    text = text.strip().strip("\x00")
    if text.startswith("#"):
        return Comment(text[1:].strip()[:200])
    try:
        body = loads(text)
    except JsonRefused as exc:
        shown = text[:60].encode("utf-8", "backslashreplace").decode()
        raise Rejected(Reason(exc.reason), f"{exc.detail}: {shown!r}" if exc.reason == "not_json" else exc.detail) \
            from None
    if not isinstance(body, dict):
        raise Rejected(Reason.WRONG_TYPE, f"a line must be a JSON object, got {type(body).__name__}")
    if "hello" in body:
        board = body.get("board")
        if not isinstance(board, str) or not BOARD_ID.match(board):
            raise Rejected(Reason.WRONG_TYPE, "a hello needs 'board': letters, digits, '.', '_' or '-' (1-40)")
        firmware = body.get("firmware")
        return Hello(board, str(firmware)[:40] if firmware is not None else None)
    seq = body.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise Rejected(Reason.WRONG_TYPE, "'seq' must be a whole number from 0")
    if "port" in body and body["port"] is not None:
        body = {**body, "port": str(body["port"])}
    # `seq` here counts lines (lost ones show as gaps; a board's restart starts again at 0): it is not an id that
    # makes a reading unique, so it is not passed on as one. A board with a clock may send `ts`.
    return SerialReading({k: body[k] for k in ("voltage", "current", "power", "port", "ts") if k in body}, seq)


class SequenceWatch:
    """Counts readings lost between two `seq` values (a board restart, which resets seq to 0, is not a loss)."""

    def __init__(self) -> None:
        self._last: int | None = None
        self.lost = 0

    def see(self, seq: int | None) -> int:
        if seq is None:
            return 0
        lost = 0
        if self._last is not None and seq > self._last + 1:
            lost = seq - self._last - 1
            self.lost += lost
        self._last = seq
        return lost
