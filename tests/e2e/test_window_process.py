"""The desk window as a user starts it (`python main.py`, offscreen): it starts the hub as its own process and is
only a client of it, so killing the window with -9 while devices publish loses nothing, and a new window attaches
to the same hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.test_smoke import ROOT, WINDOW_OFFSCREEN, Kiosk, health, stop_leftover_hub
from tests.helpers import connect, wait_for


def hub_pid(kiosk: Kiosk) -> int | None:
    from kiosk.client.local_hub import lock_info

    info = lock_info(Path(kiosk.env["KIOSK_DATA_DIR"]))
    return info.get("pid") if info else None


def loaded_libraries(pid: int) -> str:
    """The shared objects mapped into a process: a C extension of SQLAlchemy or aiohttp shows it was imported."""
    return Path(f"/proc/{pid}/maps").read_text()


class Publisher(threading.Thread):
    """A device publishing numbered readings at QoS 1 until stopped; counts what the broker acknowledged."""

    def __init__(self, port: int, device_id: str, token: str) -> None:
        super().__init__(name="test-publisher", daemon=True)
        self.device = connect(port, device_id, token)
        self.device_id = device_id
        self.acknowledged = 0
        self.halt = threading.Event()

    def run(self) -> None:
        seq = 0
        while not self.halt.is_set():
            seq += 1
            info = self.device.client.publish(f"devices/{self.device_id}/datastream",
                                              json.dumps({"value": seq, "seq": seq}), qos=1)
            info.wait_for_publish(5)
            if info.is_published():
                self.acknowledged += 1
            self.halt.wait(0.01)

    def stop(self) -> None:
        self.halt.set()
        self.join(10)
        self.device.close()


@pytest.mark.slow
@pytest.mark.parametrize("running", [WINDOW_OFFSCREEN], indirect=True, ids=["window"])
def test_killing_the_window_loses_nothing_and_a_new_window_attaches(running: Kiosk, tmp_path: Path) -> None:
    hub = hub_pid(running)
    assert hub is not None and hub != running.process.pid, "the hub runs in a process of its own"
    window_libraries = loaded_libraries(running.process.pid)
    assert "sqlalchemy" not in window_libraries and "aiohttp" not in window_libraries and "amqtt" not in \
        window_libraries, "the window process loaded a part of the hub"
    added = running.cli("device", "add", "--name", "Meter", "--kind", "energy")
    device_id, token = added.split("device id:")[1].split()[0], added.split("token:")[1].split()[0]
    publisher = Publisher(running.broker_port, device_id, token)
    publisher.start()
    try:
        wait_for(lambda: publisher.acknowledged >= 50, timeout=20)
        os.kill(running.process.pid, signal.SIGKILL)  # the window dies; the hub must not notice
        running.process.communicate(timeout=10)
        at_kill = health(running.http_port)["device_worker"]["accepted"]
        wait_for(lambda: health(running.http_port)["device_worker"]["accepted"] >= at_kill + 100, timeout=20)
        assert hub_pid(running) == hub
        again = subprocess.Popen([sys.executable, "main.py", *running.common], cwd=ROOT, env=running.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out: list[str] = []
            reader = threading.Thread(target=lambda: out.extend(again.stdout), daemon=True)
            reader.start()
            wait_for(lambda: any("attached to the hub" in line for line in out), timeout=30)
            assert any(f"process {hub}" in line for line in out if "attached to the hub" in line)
            assert hub_pid(running) == hub, "no second hub was started"
            again.send_signal(signal.SIGTERM)  # this window did not start the hub: quitting it leaves the hub
            assert again.wait(15) == 0
            reader.join(5)
        finally:
            if again.poll() is None:
                again.kill()
            again.communicate()
        assert health(running.http_port)["status"] == "ok"
    finally:
        publisher.stop()
    acknowledged = publisher.acknowledged
    wait_for(lambda: health(running.http_port)["device_worker"]["accepted"] >= acknowledged, timeout=20)
    assert "stopped" in running.cli("stop")
    log = (Path(running.env["KIOSK_DATA_DIR"]) / "hub.log").read_text()
    assert "started by the desk window" in log and "ERROR" not in log


def test_sigterm_right_after_the_first_paint_stops_the_hub_that_window_starts(tmp_path: Path) -> None:
    """The stop request arrived while the window was still setting up its hub link (Python runs a signal handler
    between any two bytecodes): the window quit without stopping the hub its starter then started, which kept
    running in its own session (bench/startup.py left one behind per run)."""
    from kiosk.client.local_hub import lock_info

    kiosk = Kiosk(tmp_path, env=WINDOW_OFFSCREEN[1])
    try:
        assert kiosk.process.stdout is not None
        for line in kiosk.process.stdout:
            if "window painted" in line:
                kiosk.process.send_signal(signal.SIGTERM)
                break
        output, _ = kiosk.process.communicate(timeout=120)
        assert kiosk.process.returncode == 0, output
        hub_log = Path(kiosk.env["KIOSK_DATA_DIR"]) / "hub.log"
        if hub_log.exists() and "started by the desk window" in hub_log.read_text():  # it got as far as starting
            assert "the hub stopped" in output, f"the window left the hub it started running: {output}"
        assert lock_info(Path(kiosk.env["KIOSK_DATA_DIR"])) is None, f"a hub still runs on the data folder: {output}"
    finally:
        if kiosk.process.poll() is None:
            kiosk.process.kill()
            kiosk.process.communicate()
        stop_leftover_hub(kiosk)


@pytest.mark.slow
def test_a_desk_window_of_another_user_waits_for_the_hub_service_and_attaches_through_its_share_file(
        tmp_path: Path) -> None:
    """The packaged PC: the hub runs as a service of its own user (its data folder private to it) and writes
    desk.share_file; a person signed in at the desktop opens the menu entry (`kiosk --hub-file FILE`), with a data
    folder of their own. Started before the hub, the window says the service is not running and waits; then it
    attaches, starts no hub of its own, and quitting it leaves the service running."""
    import grp

    from kiosk.client.local_hub import lock_info

    share = tmp_path / "run" / "desk.json"
    share.parent.mkdir()
    person = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "person" / "data"),
              "KIOSK_CONFIG_DIR": str(tmp_path / "person" / "config"), "QT_QPA_PLATFORM": "offscreen"}
    window = subprocess.Popen([sys.executable, "main.py", "--hub-file", str(share)], cwd=ROOT, env=person,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(window.stdout or ()), daemon=True)
    reader.start()
    hub: Kiosk | None = None
    try:
        wait_for(lambda: any("the hub service on this PC is not running" in line for line in out), timeout=30)
        group = grp.getgrgid(os.getgid()).gr_name
        hub = Kiosk(tmp_path / "service", "--headless",
                    env={"KIOSK_DESK_SHARE_FILE": str(share), "KIOSK_DESK_SHARE_GROUP": group})
        wait_for(lambda: any("attached to the hub service" in line for line in out), timeout=40)
        assert any(f"process {hub.process.pid}" in line for line in out if "attached to the hub service" in line)
        assert lock_info(Path(person["KIOSK_DATA_DIR"])) is None, "the window started no hub of its own"
        window.send_signal(signal.SIGTERM)
        assert window.wait(15) == 0
        reader.join(5)
        assert health(hub.http_port)["status"] == "ok", "quitting the window left the service running"
        code, _took, output = hub.stop()
        assert code == 0, output
        assert not share.exists(), "the stopped hub removed its share file"
        assert "Traceback" not in "".join(out)
    finally:
        if window.poll() is None:
            window.kill()
        window.communicate()
        if hub is not None and hub.process.poll() is None:
            hub.process.kill()
            hub.process.communicate()
