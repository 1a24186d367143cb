"""The headless hub under systemd, as kiosk-hub.service runs it (Type=notify, WatchdogSec): it says READY=1 once
the broker, HTTP and the database are up, feeds the watchdog every second, says STOPPING=1 on SIGTERM. systemd's
side is a real AF_UNIX datagram socket, read here."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.test_smoke import Kiosk, health
from tests.helpers import wait_for


def test_the_hub_tells_systemd_it_is_ready_feeds_the_watchdog_and_says_it_is_stopping(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(address)
    systemd.settimeout(30)
    kiosk = Kiosk(tmp_path, "--headless", env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "3000000"})
    try:
        ready = systemd.recv(4096).decode()
        assert ready.startswith("READY=1\nSTATUS=broker ") and "HTTP port" in ready
        with socket.create_connection(("127.0.0.1", kiosk.http_port), timeout=5):
            pass  # ready means listening: the HTTP server accepts at once
        # (its health answer may take longer than the helper's 1 s on a loaded machine: CI saw that once)
        wait_for(lambda: (h := health(kiosk.http_port)) is not None and h["status"] == "ok", timeout=15)
        fed = [systemd.recv(4096).decode() for _ in range(2)]  # a second apart, well within the 3 s
        assert fed == ["WATCHDOG=1", "WATCHDOG=1"]
        code, _seconds, output = kiosk.stop()
        messages = []
        systemd.settimeout(5)
        while True:
            message = systemd.recv(4096).decode()
            messages.append(message)
            if message.startswith("STOPPING=1"):
                break
        assert code == 0, output
    finally:
        if kiosk.process.poll() is None:
            kiosk.process.kill()
            kiosk.process.communicate()
        systemd.close()


def test_without_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    from kiosk.services.systemd import Notifier

    quiet = Notifier(env={})
    assert not quiet.enabled and quiet.watchdog_job(lambda: True) is None
    quiet.ready("x")  # does nothing, raises nothing
    not_ours = Notifier(env={"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"},
                        pid=4242)
    assert not_ours.watchdog_job(lambda: True) is None, "the watchdog belongs to another process"


def test_the_watchdog_is_not_fed_while_the_hub_is_unhealthy_and_a_lost_socket_is_said_once(tmp_path: Path,
                                                                                           caplog) -> None:
    from kiosk.services.systemd import Notifier

    address = str(tmp_path / "notify.sock")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(address)
    systemd.setblocking(False)
    healthy = [True]
    notifier = Notifier(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"})
    feed = notifier.watchdog_job(lambda: healthy[0])
    assert feed is not None and notifier.watchdog_s == 2.0
    feed()
    assert systemd.recv(64) == b"WATCHDOG=1"
    healthy[0] = False  # the store writer's thread died: systemd should restart the hub
    feed()
    try:
        systemd.recv(64)
        raise AssertionError("fed although unhealthy")
    except BlockingIOError:
        pass
    systemd.close()
    Path(address).unlink()
    healthy[0] = True
    feed()
    feed()
    notifier.close()
    assert [r.getMessage() for r in caplog.records].count(
        "systemd notification failed (WATCHDOG): [Errno 2] No such file or directory") == 1
