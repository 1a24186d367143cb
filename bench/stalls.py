"""Stall occupancy at scale: 500 stalls, sensors every 10 s, bursts of changes; to the tile and to a wall display.

    python bench/stalls.py [--stalls 500] [--seconds 60] [--burst 100] [--burst-every 5] [--quick] [--in-process]

The hub runs as the product runs it: its own process (`kiosk --headless`, broker in its child process), and the
desk window with the real Stalls tab (500 tiles in 25 restrooms) offscreen in this process, attached to it through
the API and its event stream (kiosk.ui.hub_link). `--in-process` measures the old shape instead, the hub inside the
window's process, for comparison. The sensors are registered devices with tokens, driven from `bench/stall_load.py`
in its own process over raw sockets; that process also plays a wall display (a paho subscriber of kiosk/state/stalls/+).
Measured: publish -> tile repainted with the new state (GUI), publish -> retained state at the display, and how late a
10 ms timer on the GUI thread fired (its longest stall). Goals (issue 15): tile p99 under 60 ms, no GUI stall over
16 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.stats import pct  # noqa: E402
from kiosk.app import freeze_startup_objects  # noqa: E402
from kiosk.config import load  # noqa: E402
from kiosk.core.stalls import SensorRole  # noqa: E402
from kiosk.services.hub import Hub  # noqa: E402
from kiosk.ui.bridge import Bridge  # noqa: E402
from kiosk.ui.main_window import MainWindow  # noqa: E402
from tests.helpers import free_port  # noqa: E402


class _Done(QObject):
    finished = Signal()  # emitted on the reader's thread once the load generator printed its result


def latencies(changes: list, seen: list) -> tuple[list[float], int]:
    """For each change sent, ms until the first sighting of that stall in that state; and how many never came."""
    by_stall: dict[int, list[tuple[float, str]]] = {}
    for stall, state, at in seen:
        by_stall.setdefault(stall, []).append((at, state))
    out, missed = [], 0
    for stall, state, sent in changes:
        hit = next((at for at, s in by_stall.get(stall, []) if s == state and at >= sent), None)
        if hit is None:
            missed += 1
        else:
            out.append((hit - sent) * 1000)
    return out, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stalls", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--burst-every", type=float, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="the hub inside this process (the old shape)")
    args = parser.parse_args()
    if args.quick:
        args.stalls, args.seconds, args.burst = 60, 12, 20
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        config = load({"data_dir": tmp, "broker.port": free_port(), "http.port": free_port(),
                       "broker.bind": "127.0.0.1", "log.level": "WARNING",
                       "broker.max_connections": args.stalls + 100}, env={}, config_dir=tmp)
        bridge = Bridge()
        window = MainWindow(bridge, database=config.database_label)
        window.resize(1400, 900)
        window.show()
        if args.in_process:
            hub: Any = Hub(config, bridge)
            sensors = provision(hub.registry, hub.stall_directory, args.stalls)
            internal = hub.internal
            started = threading.Event()
            threading.Thread(target=lambda: (hub.start(), started.set()), daemon=True).start()
            while not started.is_set():
                app.processEvents()
                time.sleep(0.01)
        else:
            hub, sensors, internal = hub_process(config, tmp, args.stalls, app, window)
        freeze_startup_objects()  # as the window does once the services run
        tile_seen: list[tuple[int, str, float]] = []
        bridge.stallsChanged.connect(  # connected after the tab's slot: runs once the tiles were updated
            lambda pairs, _complete: tile_seen.extend((p.stall_id, v.state.value, time.time()) for p, v in pairs))
        late: list[float] = []
        clock = QElapsedTimer()
        ticker = QTimer()
        ticker.setInterval(10)

        def tick() -> None:
            if clock.isValid():
                late.append(max(0.0, clock.nsecsElapsed() / 1e6 - 10))
            clock.restart()

        ticker.timeout.connect(tick)
        credentials = Path(tmp) / "sensors.json"
        credentials.write_text(json.dumps(sensors), encoding="utf-8")
        load_process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "stall_load.py"), str(config.broker.port), str(credentials),
             str(args.seconds), str(args.burst), str(args.burst_every), internal.username,
             internal.password], stdout=subprocess.PIPE, text=True)
        assert load_process.stdout is not None
        ready = load_process.stdout.readline().strip()
        if ready != "ready":
            raise SystemExit(f"the load generator did not start: {ready!r}")
        ticker.start()
        hub_pid = getattr(hub, "pid", os.getpid())
        cpu_before = cpu_seconds(hub_pid, load_process.pid)
        result_line: list[str] = []
        # The window waits in its event loop as the product's does (blocked in the dispatcher until a timer or an
        # event is due), not in a processEvents-and-sleep loop: that one took the GIL back every millisecond and
        # added its own sleep and GIL waits to the ticks it measured.
        loop = QEventLoop()
        done = _Done()
        done.finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)

        def read_result() -> None:
            result_line.append(load_process.stdout.readline())
            done.finished.emit()

        reader = threading.Thread(target=read_result, daemon=True)
        reader.start()
        loop.exec()
        reader.join()
        ticker.stop()
        cpu = {name: cpu_seconds(hub_pid, load_process.pid)[name] - cpu_before[name] for name in cpu_before}
        load_process.wait(30)
        load_process.stdout.close()
        result = json.loads(result_line[0])
        hub.stop()
    gui, gui_missed = latencies(result["changes"], tile_seen)
    display, display_missed = latencies(result["changes"], result["display"])
    rate = (result["reports"] + len(result["changes"])) / result["seconds"]
    shape = "hub inside the window's process" if args.in_process else "hub process, window attached over the API"
    print(f"stall benchmark ({shape}): {args.stalls} stalls in {args.stalls // 20 or 1} restrooms, sensors every "
          f"10 s, {args.burst} changes every {args.burst_every:g} s, {args.seconds:g} s, {os.cpu_count()} cores; "
          f"{rate:.0f} msg/s in")
    head = f"{'path':44} {'changes':>8} {'missed':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(head + "\n" + "-" * len(head))
    for name, values, missed in (("publish -> tile repainted (Stalls tab)", gui, gui_missed),
                                 ("publish -> retained state at a display", display, display_missed)):
        print(f"{name:44} {len(values) + missed:8d} {missed:7d} {pct(values, 50):8.1f} {pct(values, 99):8.1f} "
              f"{max(values, default=float('nan')):8.1f}")
    print("CPU seconds during the load: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items()))
    print(f"GUI thread: a 10 ms timer fired late by p99 {pct(late, 99):.1f} ms, at worst {max(late, default=0):.1f} ms "
          f"({len(late)} ticks)")


def cpu_seconds(hub_pid: int, load_pid: int) -> dict[str, float]:
    """CPU time (user + system) so far of the window's process, the hub's (the same one with --in-process) and the
    broker's child; the load generator is not counted."""
    import psutil

    def used(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    hub = psutil.Process(hub_pid)
    broker = sum(used(child) for child in hub.children() if child.pid != load_pid)
    window = used(psutil.Process(os.getpid()))
    out = {"window": window} if hub_pid == os.getpid() else {"window": window, "hub": used(hub)}
    return {**out, "broker": broker}


def provision(registry: Any, directory: Any, stalls: int) -> list[tuple[str, str, int]]:
    """Registered sensors with tokens, 20 stalls per restroom, one combined sensor per stall."""
    out = []
    for n in range(stalls):
        if n % 20 == 0:
            room = directory.add_restroom(f"Restroom {n // 20 + 1}", str(n // 100), "bench")
        stall = directory.add_stall(room, str(n % 20 + 1), "bench")
        info, token = registry.create(f"Stall sensor {n + 1}", "stall", "bench")
        directory.assign(info.id, stall, SensorRole.COMBINED, "bench")
        out.append((info.id, token, stall))
    return out


class _HubProcess:
    def __init__(self, data_dir: Path, pid: int, link: Any) -> None:
        self.data_dir, self.pid, self.link = data_dir, pid, link

    def stop(self) -> None:
        from kiosk.client.local_hub import stop_hub

        self.link.stop()
        if not stop_hub(self.data_dir, self.pid):  # never leave a hub running on a deleted temporary folder
            print(f"the hub (process {self.pid}) did not stop within 30 s: killed", file=sys.stderr)
            os.kill(self.pid, signal.SIGKILL)


def hub_process(config: Any, tmp: str, stalls: int, app: QApplication, window: Any) -> tuple[Any, Any, Any]:
    """The devices and stalls stored first, then `kiosk --headless` started on that data folder (as the desk window
    starts it), and the window attached to it through its API; returns once every tile is shown."""
    from kiosk.client.http import ApiClient
    from kiosk.client.local_hub import hub_command, read_station_token, start_hub
    from kiosk.services.broker.gatekeeper import internal_credentials
    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry
    from kiosk.store.stalls import StallDirectory
    from kiosk.ui.hub_link import HubLink

    engine = open_store(config.database_url)
    sensors = provision(DeviceRegistry(engine), StallDirectory(engine), stalls)
    engine.dispose()
    internal = internal_credentials(config.data_dir)
    os.environ.update({"KIOSK_BROKER_BIND": "127.0.0.1", "KIOSK_HTTP_BIND": "127.0.0.1", "KIOSK_LOG_LEVEL": "WARNING",
                       "KIOSK_BROKER_MAX_CONNECTIONS": str(stalls + 100)})
    arguments = ["--data-dir", str(config.data_dir), "--config-dir", tmp, "--broker-port", str(config.broker.port),
                 "--http-port", str(config.http.port)]

    def answers(url: str) -> bool:
        try:
            ApiClient(url, "").get("/hub")
            return True
        except Exception:
            return False

    found = start_hub(config.data_dir, hub_command(arguments), "127.0.0.1", answers)
    token = read_station_token(config.data_dir)
    link = HubLink(window.bridge, window)
    window.follow(link)
    ready: list[bool] = []
    window.bridge.servicesReady.connect(lambda: ready.append(True))
    link.attach(ApiClient(found.url, token or ""))
    while not ready or len(window.stalls.places) < stalls:
        app.processEvents()
        time.sleep(0.01)
    assert found.pid is not None
    return _HubProcess(config.data_dir, found.pid, link), sensors, internal


if __name__ == "__main__":
    main()
