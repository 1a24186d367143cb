"""Telling systemd how the hub is (sd_notify(3), spoken directly: one datagram per message, no library needed).

With `Type=notify` in kiosk-hub.service, systemd starts the services that need the hub only once it said READY=1
(the broker, HTTP and the database are up), and with `WatchdogSec=` it restarts a hub that stops feeding its
watchdog. The hub's ticker feeds it once a second while the ticker itself runs and the store writer's thread is
alive: a hub whose writer died (nothing is being stored) or whose ticker hangs is restarted, rather than left
acknowledging readings it cannot keep. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] = os.environ, pid: int | None = None) -> None:
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # an abstract socket
        self._address = address or None
        watchdog_usec = env.get("WATCHDOG_USEC", "")
        watchdog_pid = env.get("WATCHDOG_PID", "")
        own = str(pid if pid is not None else os.getpid())
        self.watchdog_s = (int(watchdog_usec) / 1e6 if watchdog_usec.isdigit() and int(watchdog_usec) > 0
                           and watchdog_pid in ("", own) else None)
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def _send(self, text: str) -> None:
        if self._address is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(text.encode(), self._address)
        except OSError as exc:
            if not self._failed:  # once: a notify socket that went away must not fill the log every second
                log.warning("systemd notification failed (%s): %s", text.split("=")[0], exc)
                self._failed = True

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def stopping(self) -> None:
        self._send("STOPPING=1\nSTATUS=stopping")

    def watchdog_job(self, healthy: Callable[[], bool]) -> Callable[[], None] | None:
        """What the hub's ticker runs each second when systemd watches it (None when it does not)."""
        if self.watchdog_s is None or self._address is None:
            return None

        def feed() -> None:
            if healthy():
                self._send("WATCHDOG=1")

        return feed

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
