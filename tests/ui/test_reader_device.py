"""A card reader read from its own input device (kiosk.ui.widgets.reader_device): the kernel's input_event records
through a named pipe (this machine has no /dev/uinput), read on the reader's thread, swipes on the GUI thread, and
the reader's state when it is missing or unplugged."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kiosk.ui.widgets.reader_device import EVENT, ReaderDevice

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
KEYS = {"C": (42, 46), "S": (42, 31), "0": (None, 11), "1": (None, 2), "2": (None, 3)}
KEY_ENTER, SHIFT = 28, 42


def card_events(text: str) -> bytes:
    """What a HID reader sends for `text` + Enter: scan code, key down, sync, key up, sync."""
    out = b""

    def key(code: int, value: int) -> bytes:
        return (EVENT.pack(1, 0, EV_MSC, 4, 0x70000 + code) + EVENT.pack(1, 0, EV_KEY, code, value)
                + EVENT.pack(1, 0, EV_SYN, 0, 0))

    for char in text:
        shift, code = KEYS[char]
        if shift:
            out += key(shift, 1)
        out += key(code, 1) + key(code, 0)
        if shift:
            out += key(shift, 0)
    return out + key(KEY_ENTER, 1) + key(KEY_ENTER, 0)


def test_swipes_from_the_device_arrive_on_the_gui_thread_even_split_mid_record(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "reader"
    os.mkfifo(path)
    writer = os.open(path, os.O_RDWR)  # holds the pipe open, as a plugged-in device stays open
    device = ReaderDevice(str(path), min_chars=4, retry_s=0.05)
    got: list[str] = []
    device.swiped.connect(got.append)
    device.start()
    try:
        qtbot.waitUntil(lambda: device.state == "", timeout=5000)
        data = card_events("CS2021") + card_events("1020")
        os.write(writer, data[:37])  # not on a record's boundary
        os.write(writer, data[37:])
        qtbot.waitUntil(lambda: got == ["CS2021", "1020"], timeout=5000)
        assert not device.grabbed, "a pipe cannot be grabbed; the reader says so and reads it anyway"
    finally:
        device.stop()
        os.close(writer)


def test_a_missing_reader_is_said_and_read_once_it_is_plugged_in(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "reader"
    device = ReaderDevice(str(path), min_chars=4, retry_s=0.05)
    states: list[str] = []
    device.stateChanged.connect(states.append)
    got: list[str] = []
    device.swiped.connect(got.append)
    device.start()
    try:
        qtbot.waitUntil(lambda: "not plugged in" in device.state, timeout=5000)
        os.mkfifo(path)
        writer = os.open(path, os.O_RDWR)
        qtbot.waitUntil(lambda: device.state == "", timeout=5000)
        os.write(writer, card_events("2021"))
        qtbot.waitUntil(lambda: got == ["2021"], timeout=5000)
        os.write(writer, card_events("CS")[: EVENT.size * 7])  # a half card, then the reader is pulled out
        os.close(writer)
        qtbot.waitUntil(lambda: "unplugged" in device.state, timeout=5000)
        writer = os.open(path, os.O_RDWR)
        qtbot.waitUntil(lambda: device.state == "", timeout=5000)
        os.write(writer, card_events("1111"))
        qtbot.waitUntil(lambda: got == ["2021", "1111"], timeout=5000)
        os.close(writer)
    finally:
        device.stop()
    assert any("not plugged in" in state for state in states) and "" in states
