"""The wall display as its own process follows the hub with its own display login: through the hub's API (the
default), or over the broker (a display set up with --broker)."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.core.stalls import SensorRole
from kiosk.store.db import open_store
from kiosk.store.devices import legacy_device_id
from kiosk.store.stalls import StallDirectory
from tests.e2e.test_smoke import ROOT, Kiosk, health
from tests.helpers import connect, wait_for


class Output:
    """A process's output lines, collected as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip())

    def close(self, process: subprocess.Popen) -> None:
        self._thread.join(5)
        process.stdout.close()  # type: ignore[union-attr]

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("road", ["api", "mqtt"])
def test_the_display_process_follows_the_hub_and_says_when_it_is_gone(tmp_path: Path, road: str) -> None:
    hub = Kiosk(tmp_path / "hub", "--headless", "--legacy-stallsense")
    display = board = None
    try:
        wait_for(lambda: (h := health(hub.http_port)) and h["status"] == "ok", timeout=30)
        added = hub.cli("device", "add", "--name", "Lobby display", "--kind", "display")
        display_id, token = added.split("device id:")[1].split()[0], added.split("token:")[1].split()[0]
        board = connect(hub.broker_port, None, None, client_id="Stall7")  # a legacy StallSense board
        board.client.publish("Stall7/id", "com.StallSense.DoorSensor", qos=1)
        board.client.publish("Stall7", "1", qos=1)
        directory = StallDirectory(open_store(f"sqlite:///{tmp_path / 'hub' / 'data' / 'kiosk.db'}"))
        wait_for(lambda: directory.pending(), timeout=10)
        stall = directory.add_stall(directory.add_restroom("Lobby", "G", "test"), "1", "test")
        directory.assign(legacy_device_id("Stall7"), stall, SensorRole.DOOR, "test")  # the hub notices the edit

        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_DATA_DIR": str(tmp_path / "display"),
               "KIOSK_CONFIG_DIR": str(tmp_path / "display")}
        if road == "api":
            env["KIOSK_STATION_TOKEN"] = token
            where = ["--hub", f"http://127.0.0.1:{hub.http_port}"]
        else:
            env.update({"KIOSK_BROKER_USERNAME": display_id, "KIOSK_BROKER_PASSWORD": token})
            where = ["--broker", f"mqtt://127.0.0.1:{hub.broker_port}"]
        display = subprocess.Popen([sys.executable, "main.py", "--display", *where, "--log-level", "DEBUG"],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        output = Output(display)
        wait_for(lambda: output.has("display: hub reachable (live)"), timeout=20)
        def report() -> bool:  # as the board does every 10 s (here faster): the hub re-reads the layout every 5 s
            board.client.publish("Stall7", "1", qos=1)
            return output.has(f"display: stall {stall} occupied")

        wait_for(report, timeout=20, interval=0.5)
        board.close()
        code, _seconds, hub_output = hub.stop()
        assert code == 0, hub_output
        wait_for(lambda: output.has("display: hub UNREACHABLE"), timeout=20)
        os.killpg(display.pid, signal.SIGTERM)
        display.wait(15)
        output.close(display)
        assert display.returncode == 0, "\n".join(output.lines)
        assert token not in "\n".join(output.lines)
        assert not any(" ERROR " in line for line in output.lines), "\n".join(output.lines)
    finally:
        if board is not None:
            board.close()
        for process in (hub.process, display):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()
            if process is not None and process.stdout is not None and not process.stdout.closed:
                process.stdout.close()
