"""The embedded broker in its supervised child process, as the product runs it (broker.process = "child")."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from kiosk.config import Config
from kiosk.services.broker.process import BrokerStartError
from kiosk.services.hub import Hub
from kiosk.services.ports import PortTaken
from tests.helpers import connect, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def child_hub(config: Config, events: Any) -> Iterator[Hub]:
    hub = Hub(config.with_overrides(broker__process="child"), events)
    hub.start()
    assert hub.link.connected.wait(10)
    yield hub
    hub.stop()


def test_devices_log_in_and_revocation_crosses_the_process_boundary(child_hub: Hub) -> None:
    assert child_hub.broker.pid != os.getpid()
    info, token = child_hub.registry.create("Stall W-2", "stall", "test")
    port = child_hub.config["broker.port"]
    refused = connect(port, info.id, "wrong")
    assert refused.rc.is_failure
    refused.close()
    device = connect(port, info.id, token)
    assert device.rc == 0
    wait_for(lambda: child_hub.broker.stats().connected == 2, timeout=5)  # the hub's link and the device
    assert child_hub.broker.stats().refused_logins == {"wrong token": 1}
    assert child_hub.broker.connected_device_ids() == [info.id]
    child_hub.registry.revoke(info.id, "test")
    child_hub.device_revoked(info.id)
    assert device.disconnected.wait(5)
    device.close()


def test_a_crashed_broker_is_restarted_and_the_hub_reconnects(child_hub: Hub) -> None:
    first = child_hub.broker.pid
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: child_hub.broker.pid not in (None, first) and child_hub.broker.running, timeout=15)
    assert child_hub.link.connected.wait(15), "the device worker did not reconnect to the restarted broker"
    info, token = child_hub.registry.create("Meter", "energy", "test")
    device = connect(child_hub.config["broker.port"], info.id, token)
    assert device.rc == 0
    device.close()
    assert child_hub.broker.restarts == 1


def test_a_broker_that_ran_well_is_restarted_without_a_growing_delay(child_hub: Hub, monkeypatch: Any) -> None:
    """The back-off is for crash loops: a broker that dies once a day must not wait 30 s from the fifth day on."""
    import kiosk.services.broker.process as process

    monkeypatch.setattr(process, "HEALTHY_AFTER_S", 0.0)  # every broker here counts as having run well
    for _ in range(3):
        before = child_hub.broker.pid
        os.kill(before, signal.SIGKILL)
        wait_for(lambda before=before: child_hub.broker.pid not in (None, before) and child_hub.broker.running,
                 timeout=4)
    assert child_hub.broker.restarts == 3 and child_hub.broker._crash_loop == 1


def test_a_port_in_use_is_a_clear_error(config: Config, events: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hub = Hub(config.with_overrides(broker__process="child", broker__port=port), events)
        with pytest.raises(PortTaken, match=rf"broker port {port} is taken by .*\(pid {os.getpid()}\)"):
            hub.start()  # said before anything listens, naming the program that holds the port
        hub.stop()
        # The broker process itself, when the port is taken between that check and its start
        from kiosk.services.broker.process import BrokerProcess
        from kiosk.services.broker.service import ListenerSpec

        broker = BrokerProcess(ListenerSpec("127.0.0.1", port), config.database_url, config.data_dir)
        with pytest.raises(BrokerStartError, match="address already in use"):
            broker.start()
        broker.stop()


ORPHAN_SCRIPT = """
import sys
from pathlib import Path
from kiosk.services.broker.process import BrokerProcess
from kiosk.services.broker.service import ListenerSpec
from kiosk.store.db import open_store
data = Path(sys.argv[1])
open_store(f"sqlite:///{data / 'kiosk.db'}")
broker = BrokerProcess(ListenerSpec("127.0.0.1", int(sys.argv[2])), f"sqlite:///{data / 'kiosk.db'}", data)
broker.start()
print(broker.pid, flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_the_broker_does_not_outlive_a_killed_hub(tmp_path: Path) -> None:
    from tests.helpers import free_port

    hub = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(tmp_path), str(free_port())], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert hub.stdout is not None
    broker_pid = int(hub.stdout.readline())
    assert psutil.pid_exists(broker_pid)
    hub.kill()
    hub.wait()
    hub.stdout.close()
    hub.stdin.close()

    def gone() -> bool:
        try:
            return psutil.Process(broker_pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(gone, timeout=10)


def test_the_broker_ignores_signals_meant_for_the_whole_process_group(child_hub: Hub) -> None:
    """Ctrl+C and systemd signal every process of the group; only the hub may stop its broker."""
    pid = child_hub.broker.pid
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGINT)
    info, token = child_hub.registry.create("Stall", "stall", "test")
    device = connect(child_hub.config["broker.port"], info.id, token)  # still serving
    assert device.rc == 0
    device.close()
    assert child_hub.broker.pid == pid and child_hub.broker.restarts == 0


def test_a_stopped_broker_process_is_said_to_be_not_responding(child_hub: Hub, monkeypatch: Any, qapp: Any) -> None:
    """A broker process that is alive but silent (stopped with SIGSTOP, or hung) must not be shown as "up" with its
    last client count: the window's status bar and /health say it does not respond, and it is up again after."""
    import kiosk.services.broker.process as process
    from kiosk.ui.widgets.status_bar import KioskStatusBar

    monkeypatch.setattr(process, "SILENT_AFTER_S", 1.5)
    wait_for(lambda: child_hub.broker.stats().responding and child_hub.broker.stats().connected >= 1, timeout=5)
    pid = child_hub.broker.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: not child_hub.broker.stats().responding, timeout=6)
        stats = child_hub.broker.stats()
        assert stats.running and stats.silent_s >= 1.5 and stats.connected == 0
        ok, health = child_hub.health()
        assert not ok and health["status"] == "degraded" and health["broker"]["responding"] is False
        bar = KioskStatusBar("test")
        bar.show_status(child_hub.status())
        assert bar.broker.text().startswith("Broker: NOT RESPONDING") and bar.clients.text() == "Clients: —"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: child_hub.broker.stats().responding, timeout=6)
    assert child_hub.broker.pid == pid  # the same process, answering again
