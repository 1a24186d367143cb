"""Stall occupancy at scale: 500 stalls, sensors every 10 s, bursts of changes; to the tile and to a wall display.

    python bench/stalls.py [--stalls 500] [--seconds 60] [--burst 100] [--burst-every 5] [--quick]

The hub runs as the product runs it (broker in its child process) with the real Stalls tab (500 tiles in 25
restrooms) offscreen. The sensors are registered devices with tokens, driven from `bench/stall_load.py` in its own
process over raw sockets; that process also plays a wall display (a paho subscriber of kiosk/state/stalls/+).
Measured: publish -> tile repainted with the new state (GUI), publish -> retained state at the display, and how late a
10 ms timer on the GUI thread fired (its longest stall). Goals (issue 4): tile p99 under 100 ms, no GUI stall over
50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.stats import pct  # noqa: E402
from kiosk.app import freeze_startup_objects  # noqa: E402
from kiosk.config import load  # noqa: E402
from kiosk.core.stalls import SensorRole  # noqa: E402
from kiosk.services.hub import Hub  # noqa: E402
from kiosk.ui.bridge import Bridge  # noqa: E402
from kiosk.ui.main_window import MainWindow  # noqa: E402
from tests.helpers import free_port  # noqa: E402


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
    args = parser.parse_args()
    if args.quick:
        args.stalls, args.seconds, args.burst = 60, 12, 20
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        config = load({"data_dir": tmp, "broker.port": free_port(), "http.port": 0, "broker.bind": "127.0.0.1",
                       "log.level": "WARNING", "broker.max_connections": args.stalls + 100}, env={}, config_dir=tmp)
        bridge = Bridge()
        window = MainWindow(bridge, database=config.database_label)
        window.resize(1400, 900)
        window.show()
        hub = Hub(config, bridge)
        sensors = provision(hub, args.stalls)
        started = threading.Event()
        threading.Thread(target=lambda: (hub.start(), started.set()), daemon=True).start()
        while not started.is_set():
            app.processEvents()
            time.sleep(0.01)
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
            [sys.executable, str(ROOT / "bench" / "stall_load.py"), str(config["broker.port"]), str(credentials),
             str(args.seconds), str(args.burst), str(args.burst_every), hub.internal.username,
             hub.internal.password], stdout=subprocess.PIPE, text=True)
        assert load_process.stdout is not None
        ready = load_process.stdout.readline().strip()
        if ready != "ready":
            raise SystemExit(f"the load generator did not start: {ready!r}")
        ticker.start()
        result_line: list[str] = []
        reader = threading.Thread(target=lambda: result_line.append(load_process.stdout.readline()), daemon=True)
        reader.start()
        while reader.is_alive():
            app.processEvents()
            time.sleep(0.001)
        ticker.stop()
        load_process.wait(30)
        load_process.stdout.close()
        result = json.loads(result_line[0])
        hub.stop()
    gui, gui_missed = latencies(result["changes"], tile_seen)
    display, display_missed = latencies(result["changes"], result["display"])
    rate = (result["reports"] + len(result["changes"])) / result["seconds"]
    print(f"stall benchmark: {args.stalls} stalls in {args.stalls // 20 or 1} restrooms, sensors every 10 s, "
          f"{args.burst} changes every {args.burst_every:g} s, {args.seconds:g} s, {os.cpu_count()} cores; "
          f"{rate:.0f} msg/s in")
    head = f"{'path':44} {'changes':>8} {'missed':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(head + "\n" + "-" * len(head))
    for name, values, missed in (("publish -> tile repainted (Stalls tab)", gui, gui_missed),
                                 ("publish -> retained state at a display", display, display_missed)):
        print(f"{name:44} {len(values) + missed:8d} {missed:7d} {pct(values, 50):8.1f} {pct(values, 99):8.1f} "
              f"{max(values, default=float('nan')):8.1f}")
    print(f"GUI thread: a 10 ms timer fired late by p99 {pct(late, 99):.1f} ms, at worst {max(late, default=0):.1f} ms "
          f"({len(late)} ticks)")


def provision(hub: Hub, stalls: int) -> list[tuple[str, str, int]]:
    """Registered sensors with tokens, 20 stalls per restroom, one combined sensor per stall."""
    out = []
    for n in range(stalls):
        if n % 20 == 0:
            room = hub.stall_directory.add_restroom(f"Restroom {n // 20 + 1}", str(n // 100), "bench")
        stall = hub.stall_directory.add_stall(room, str(n % 20 + 1), "bench")
        info, token = hub.registry.create(f"Stall sensor {n + 1}", "stall", "bench")
        hub.stall_directory.assign(info.id, stall, SensorRole.COMBINED, "bench")
        out.append((info.id, token, stall))
    return out


if __name__ == "__main__":
    main()
