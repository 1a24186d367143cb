"""A card reader read from its own input device (`desk.reader_device`), not from the window's keyboard.

Linux gives every keyboard an event device; a reader at `/dev/input/by-id/usb-...-event-kbd` can be read directly.
`ReaderDevice` reads it on a thread of its own, takes it for itself (EVIOCGRAB: its keys then reach no window and no
other program, so a swipe never types into a field), decodes the keys (kiosk.core.card_keys) and emits `swiped` on
the GUI thread. Unplugged, it says so and opens the device again when it comes back (every `retry_s`); without the
right to read it (the kiosk's user is not in the `input` group) it says that, and keeps trying.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import struct
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QLabel, QStatusBar, QWidget

from kiosk.core.card_keys import EV_KEY, KeyDecoder

log = logging.getLogger(__name__)

EVENT = struct.Struct("@llHHi")  # struct input_event: timeval, type, code, value (24 bytes on 64-bit Linux)
EVIOCGRAB = 0x40044590  # _IOW('E', 0x90, int)
RETRY_S = 2.0


class ReaderDevice(QObject):
    """Signals:
        swiped(str): a card's text, read from the device.
        stateChanged(str): what the desk should know about the reader, in words ("" once it reads).
    """

    swiped = Signal(str)
    stateChanged = Signal(str)

    def __init__(self, path: str, min_chars: int = 4, parent: QObject | None = None, retry_s: float = RETRY_S) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.decoder = KeyDecoder(min_chars)
        self.retry_s = retry_s
        self.grabbed = False
        self.state = f"Card reader {self.path.name}: starting"
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="card-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def _say(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if state:
                log.warning("%s", state)
            else:
                log.info("card reader %s: reading (%s)", self.path, "taken for the desk" if self.grabbed
                         else "not taken: its keys also reach the window in focus")
            self.stateChanged.emit(state)

    def _wait(self, seconds: float) -> bool:
        """Sleep, or wake at stop(); True when stopping."""
        select.select([self._wake_r], [], [], seconds)
        return self._stopping.is_set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                self._say(f"Card reader not plugged in (waiting for {self.path})")
            except PermissionError:
                self._say(f"Card reader {self.path}: no permission to read it (add the kiosk's user to the "
                          "'input' group, then sign in again)")
            except OSError as error:
                self._say(f"Card reader {self.path}: cannot open it ({error.strerror})")
            else:
                try:
                    self._read(fd)
                finally:
                    os.close(fd)
                    self.decoder.reset()
                    self.grabbed = False
                if not self._stopping.is_set():
                    self._say(f"Card reader unplugged (waiting for {self.path})")
            if self._wait(self.retry_s):
                return

    def _read(self, fd: int) -> None:
        try:
            fcntl.ioctl(fd, EVIOCGRAB, 1)
            self.grabbed = True
        except OSError:
            self.grabbed = False  # not an event device (a test's pipe), or another program holds it
        self._say("")
        pending = b""
        while not self._stopping.is_set():
            ready, _, _ = select.select([fd, self._wake_r], [], [])
            if fd not in ready:
                return
            try:
                chunk = os.read(fd, EVENT.size * 64)
            except BlockingIOError:
                continue
            except OSError as error:
                if error.errno not in (errno.ENODEV, errno.EIO):
                    log.warning("card reader %s: %s", self.path, error.strerror)
                return  # unplugged
            if not chunk:
                return  # the other end closed (a pipe)
            pending += chunk
            whole = len(pending) - len(pending) % EVENT.size
            for _sec, _usec, kind, code, value in EVENT.iter_unpack(pending[:whole]):
                if kind == EV_KEY:
                    text = self.decoder.feed(code, value)
                    if text is not None:
                        self.swiped.emit(text)
            pending = pending[whole:]


def read_cards_from(path: str, min_chars: int, window: QWidget, bar: QStatusBar) -> ReaderDevice:
    """Start reading a reader device for `window`: its state shows in `bar` while it is not reading (unplugged, no
    permission), and the thread stops when the application quits."""
    device = ReaderDevice(path, min_chars, window)
    label = QLabel(device.state, bar)
    label.setObjectName("readerState")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setContentsMargins(8, 2, 16, 2)
    bar.addWidget(label)

    def show(state: str) -> None:
        label.setText(state)
        label.setVisible(bool(state))

    device.stateChanged.connect(show, Qt.ConnectionType.QueuedConnection)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(device.stop)
    device.start()
    return device
