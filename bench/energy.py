"""Energy at scale: ingest of 1,000 readings/s over MQTT and USB serial; a year of 1 Hz data in the graph;
16 live ports.

    python bench/energy.py [--rate 1000] [--seconds 30] [--year-days 365] [--quick]

1. Ingest: the hub as the product runs it (broker in its child process), meters over MQTT from
   `bench/energy_load.py` in its own process, and virtual USB boards (pseudo-terminals the hub opens like real
   boards) written from this process; together RATE readings/s for SECONDS. Measured: readings stored / sent, the
   store writer's largest backlog, and how long after the last reading everything was stored. Reference: raw
   sqlite3 inserting the same number of rows in one transaction per second.
2. Graph: one port with a year of 1 Hz readings (31.5 million rows, bulk-inserted, rollups computed alongside),
   the real Energy tab offscreen: time from setting the visible range (year, month, week, day, hour, minute) until
   the history is read, drawn into the plot and repainted. Reference: the raw sqlite3 query behind each.
3. Live: 16 ports at 1 Hz (4 meters x 4 ports) with the Energy tab showing all 16 live curves: CPU of this process
   (hub + window) as a share of one core, next to the same process idle for the same time.
Goals (issue 6): (1) no falling behind at 1,000/s, (2) year -> minute under 100 ms, (3) under 5 % of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.stats import pct  # noqa: E402
from kiosk.app import freeze_startup_objects  # noqa: E402
from kiosk.config import load  # noqa: E402
from kiosk.services.hub import Hub  # noqa: E402
from tests.helpers import RecordingEvents, free_port  # noqa: E402

DAY = 86400


def config_for(tmp: Path, **extra: object):  # noqa: ANN201
    return load({"data_dir": str(tmp / "data"), "broker.port": free_port(), "http.port": free_port(),
                 "broker.bind": "127.0.0.1", "http.bind": "127.0.0.1", "serial.usb_ids": "",
                 "log.level": "WARNING", **extra}, env={}, config_dir=tmp / "config")


# --- 1. ingest ----------------------------------------------------------------------------------------------------


def ingest(rate: float, seconds: float) -> list[tuple[str, str]]:
    serial_share = 0.2  # a fifth of the readings come from USB boards
    boards = 4
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = config_for(tmp, **{"serial.max_lines_per_s": 1000})
        hub = Hub(config, RecordingEvents())
        hub.start()
        hub.link.connected.wait(10)
        meters = [hub.registry.create(f"Meter {n}", "energy", "bench") for n in range(20)]
        credentials = tmp / "meters.json"
        credentials.write_text(json.dumps([[info.id, token] for info, token in meters]), encoding="utf-8")
        links = config.data_dir / "serial"
        links.mkdir(parents=True, exist_ok=True)
        masters = []
        for n in range(boards):
            master, slave = pty.openpty()
            tty.setraw(slave)
            (links / f"bench-board-{n}").symlink_to(os.ttyname(slave))
            os.close(slave)
            masters.append(master)
        deadline = time.monotonic() + 15
        while sum(s.open for s in hub.serial.stats()) < boards and time.monotonic() < deadline:  # type: ignore
            time.sleep(0.1)
        mqtt_rate = rate * (1 - serial_share)
        load_process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "energy_load.py"),
                                         str(config.broker.port), str(credentials), str(mqtt_rate), str(seconds),
                                         "4"], stdout=subprocess.PIPE, text=True)
        assert load_process.stdout is not None
        assert load_process.stdout.readline().strip() == "ready"
        serial_sent = [0]
        backlog: list[int] = []

        def write_boards() -> None:
            per_board = rate * serial_share / boards
            start = time.monotonic()
            for master in masters:
                os.write(master, b'{"hello": "kiosk-energy", "board": "B%d"}\n' % masters.index(master))
            while time.monotonic() - start < seconds:
                due = start + serial_sent[0] / (per_board * boards)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                master = masters[serial_sent[0] % boards]
                os.write(master, b'{"port": "1", "voltage": 230.0, "current": 0.45, "power": 103.5, "seq": %d}\n'
                         % (serial_sent[0] // boards))
                serial_sent[0] += 1

        writer_thread = threading.Thread(target=write_boards)
        started = time.monotonic()
        writer_thread.start()
        while writer_thread.is_alive():
            backlog.append(hub.writer.health().backlog)
            time.sleep(0.5)
        mqtt_sent = int(load_process.stdout.readline())
        load_process.wait(30)
        sent = mqtt_sent + serial_sent[0]
        end_of_sending = time.monotonic()

        def stored() -> int:
            with sqlite3.connect(config.data_dir / "kiosk.db") as db:
                return db.execute("SELECT count(*) FROM energy_readings").fetchone()[0]

        while stored() < sent and time.monotonic() - end_of_sending < 30:
            time.sleep(0.1)
        drained = time.monotonic() - end_of_sending
        count = stored()
        wall = end_of_sending - started
        serial_stats = hub.serial.stats()  # type: ignore[union-attr]
        hub.stop()
        for master in masters:
            os.close(master)
        reference = raw_insert_reference(tmp / "ref.db", int(rate), 5)
    return [("readings sent (MQTT + USB serial)", f"{sent:,} in {wall:.1f} s = {sent / wall:,.0f}/s "
             f"({mqtt_sent:,} MQTT, {serial_sent[0]:,} serial)"),
            ("readings stored", f"{count:,} ({count / max(sent, 1):.2%}); rejected by the serial boards' limits: "
             f"{sum(s.flood_dropped for s in serial_stats)}"),
            ("store writer backlog, largest", f"{max(backlog or [0]):,} rows (sampled every 0.5 s)"),
            ("all stored after the last reading", f"{drained:.2f} s"),
            ("reference: raw sqlite3, same rows, 1 commit/s", reference)]


def raw_insert_reference(path: Path, rate: int, seconds: int) -> str:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, device_id TEXT, port TEXT, ts REAL, voltage REAL, "
               "current REAL, power REAL)")
    db.execute("CREATE INDEX a ON r (device_id, port, ts)")
    db.execute("CREATE INDEX b ON r (port, ts)")
    started = time.perf_counter()
    for second in range(seconds):
        with db:
            db.executemany("INSERT INTO r (device_id, port, ts, voltage, current, power) VALUES (?, ?, ?, ?, ?, ?)",
                           [("dev", f"p{i % 16}", second + i / rate, 230.0, 0.45, 103.5) for i in range(rate)])
    took = time.perf_counter() - started
    db.close()
    return f"{rate * seconds / took:,.0f} rows/s ({took / seconds * 1000:.0f} ms of work per second of readings)"


# --- 2. a year in the graph ---------------------------------------------------------------------------------------


def build_year(path: Path, days: int) -> tuple[object, str]:
    """A port with `days` of 1 Hz readings from local midnight `days` ago, plus its rollups (computed alongside)."""
    import numpy as np

    from kiosk.core.energy import bucket_start
    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry
    from kiosk.store.energy import EnergyStore

    engine = open_store(f"sqlite:///{path}")
    info, _ = DeviceRegistry(engine).create("Year meter", "energy", "bench")
    port = EnergyStore(engine).add_port(info.id, "Reading room lamps", "bench")
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rng = np.random.default_rng(1)
    first_day = bucket_start(time.time() - days * DAY, "day")
    for day in range(days + 1):  # through the end of today: "the last minute" has data
        start = first_day + day * DAY
        seconds = np.arange(DAY)
        on = (seconds >= 8 * 3600) & (seconds < 21 * 3600)
        power = np.where(on, rng.normal(120, 6, DAY), np.abs(rng.normal(4, 0.3, DAY))).round(2)
        ts = start + seconds
        rows = zip([info.id] * DAY, [port.id] * DAY, ts.tolist(), [230.0] * DAY, (power / 230).round(5).tolist(),
                   power.tolist())
        with db:
            db.executemany("INSERT INTO energy_readings (device_id, port, ts, voltage, current, power) "
                           "VALUES (?, ?, ?, ?, ?, ?)", rows)
            rollups = []
            for tier, size in (("minute", 60), ("hour", 3600)):
                shaped = power.reshape(DAY // size, size)
                for n in range(DAY // size):
                    chunk = shaped[n]
                    rollups.append((port.id, tier, start + n * size, size, float(chunk.min()), float(chunk.max()),
                                    float(chunk.sum()), float(chunk.sum()) / 3600))
            rollups.append((port.id, "day", start, DAY, float(power.min()), float(power.max()), float(power.sum()),
                            float(power.sum()) / 3600))
            db.executemany("INSERT INTO energy_rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rollups)
    db.execute("ANALYZE")
    db.close()
    return info.id, port.id


class YearOps:
    """The Energy tab's operations over the benchmark's file, without a hub."""

    def __init__(self, path: Path, port_id: str) -> None:
        from kiosk.core.energy import PortStatus
        from kiosk.store.db import open_store
        from kiosk.store.energy import EnergyStore

        self.store = EnergyStore(open_store(f"sqlite:///{path}"))
        self._row = {"id": port_id, "name": "Reading room lamps", "device": "Year meter",
                     "status": PortStatus.NO_DATA, "watts": None}

    def port_rows(self) -> list[dict[str, object]]:
        return [self._row]

    def live(self, port_id: str, since: float) -> list[tuple[float, float]]:
        return []

    def series(self, port_id: str, since: float, until: float) -> object:
        return self.store.series(port_id, since, until)

    def notifications(self) -> list[object]:
        return []


def graph(app: QApplication, days: int, repeats: int) -> list[tuple[str, str]]:
    from kiosk.core.energy import choose_tier
    from kiosk.ui.energy.energy_view import EnergyView

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        path = Path(tmp_name) / "year.db"
        started = time.perf_counter()
        _device, port_id = build_year(path, days)
        size = path.stat().st_size / 1e9
        rows.append(("built", f"{days * DAY:,} readings in {time.perf_counter() - started:.0f} s ({size:.1f} GB)"))
        view = EnergyView()
        view.resize(1280, 800)
        view.show()
        view.attach(YearOps(path, port_id))
        app.processEvents()
        view.select_ports([port_id])
        done = []
        view.historyShown.connect(lambda: done.append(time.perf_counter()))

        def wait_shown(count: int) -> None:
            deadline = time.monotonic() + 30
            while len(done) < count and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.0005)

        wait_shown(1)
        freeze_startup_objects()
        now = time.time()
        db = sqlite3.connect(path)
        for label, span in (("a year", days * DAY), ("a month", 30 * DAY), ("a week", 7 * DAY), ("a day", DAY),
                            ("an hour", 3600), ("a minute", 60), ("a year (again)", days * DAY)):
            times = []
            for _ in range(repeats):
                before = len(done)
                # From a year (or to it): the range change a person makes by zooming all the way.
                first = days * DAY if span < days * DAY else 60
                view.history_plot.setXRange(now - first, now, padding=0)
                view._load_history()
                wait_shown(before + 1)
                app.processEvents()
                count = len(done)
                started = time.perf_counter()
                view.history_plot.setXRange(now - span, now, padding=0)
                view._load_history()
                wait_shown(count + 1)
                view.history_plot.repaint()
                times.append((time.perf_counter() - started) * 1000)
            tier = choose_tier(span)
            ref = raw_series_reference(db, port_id, tier, now - span, now)
            rows.append((f"range -> {label} ({tier}, {len(view.series.xs):,} points)",
                         f"p50 {pct(times, 50):.1f} ms, max {max(times):.1f} ms; raw sqlite3 query {ref:.1f} ms"))
        rows += api_series(YearOps(path, port_id), port_id, days, repeats, Path(tmp_name))
        db.close()
        view.close()
        view.background.wait()
    return rows


def api_series(ops: YearOps, port_id: str, days: int, repeats: int, tmp: Path) -> list[tuple[str, str]]:
    """The same series through the hub's API (aiohttp on loopback, kiosk.client decoding) and, in the same run,
    straight from the store: what a station's Energy tab pays for its history."""
    from kiosk.client.energy import RemoteEnergy
    from kiosk.client.http import ApiClient
    from kiosk.core.throttle import FailureThrottle
    from kiosk.services.api.access import Access, Sessions, local_station_token
    from kiosk.services.api.energy import EnergyApi
    from kiosk.services.api.events import EventHub
    from kiosk.services.api.framework import Api
    from kiosk.services.http import HttpServer
    from kiosk.services.loop import ServiceLoop

    token = local_station_token(tmp) or ""
    access = Access(token, lambda t: None, Sessions(lambda: 300.0, lambda *row: None), FailureThrottle())
    api = Api(access.authenticate, lambda call, what: None, 65536, 10.0)
    api.add(*EnergyApi(ops, EventHub()).routes())  # type: ignore[arg-type]
    loop = ServiceLoop()
    loop.start()
    server = HttpServer("127.0.0.1", 0, lambda: (True, {}), mount=api.mount)
    loop.run(server.start())
    client = ApiClient(f"http://127.0.0.1:{server.port}", token)
    remote = RemoteEnergy(client)
    rows = []
    now = time.time()
    try:
        for label, span in (("a year", days * DAY), ("a month", 30 * DAY), ("a day", DAY), ("a minute", 60)):
            through, direct = [], []
            for _ in range(max(repeats, 5)):
                started = time.perf_counter()
                series = remote.series(port_id, now - span, now)
                through.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                ops.series(port_id, now - span, now)
                direct.append((time.perf_counter() - started) * 1000)
            rows.append((f"series through the API: {label} ({series.tier}, {len(series.xs):,} points)",
                         f"p50 {pct(through, 50):.1f} ms, max {max(through):.1f} ms; in process "
                         f"p50 {pct(direct, 50):.1f} ms"))
    finally:
        client.close()
        loop.run(server.stop())
        loop.stop()
    return rows


def raw_series_reference(db: sqlite3.Connection, port_id: str, tier: str, since: float, until: float) -> float:
    started = time.perf_counter()
    if tier == "raw":
        db.execute("SELECT ts, power FROM energy_readings WHERE port = ? AND ts >= ? AND ts < ? ORDER BY ts",
                   (port_id, since, until)).fetchall()
    else:
        db.execute("SELECT start, count, minimum, maximum, total, energy_wh FROM energy_rollups WHERE port = ? AND "
                   "tier = ? AND start >= ? AND start < ? ORDER BY start", (port_id, tier, since, until)).fetchall()
    return (time.perf_counter() - started) * 1000


# --- 3. sixteen live ports ----------------------------------------------------------------------------------------


def live(app: QApplication, seconds: float) -> list[tuple[str, str]]:
    from kiosk.ui.energy.energy_view import EnergyView

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = config_for(tmp)
        hub = Hub(config, RecordingEvents())
        hub.start()
        hub.link.connected.wait(10)
        meters = [hub.registry.create(f"Meter {n}", "energy", "bench") for n in range(4)]
        for info, _ in meters:
            for channel in range(1, 5):
                hub.energy_store.add_port(info.id, f"Socket {channel}", "bench", channel=str(channel))
        view = EnergyView()
        view.resize(1280, 800)
        view.show()
        view.attach(hub.energy_queries)
        app.processEvents()
        view.select_ports([p.id for p in hub.energy_store.ports()])
        freeze_startup_objects()
        process = psutil.Process()

        def cpu_share(duration: float) -> float:
            before, wall = process.cpu_times(), time.monotonic()
            while time.monotonic() - wall < duration:
                app.processEvents()
                time.sleep(0.01)
            after = process.cpu_times()
            return ((after.user - before.user) + (after.system - before.system)) / (time.monotonic() - wall)

        idle = cpu_share(seconds)
        credentials = tmp / "meters.json"
        credentials.write_text(json.dumps([[info.id, token] for info, token in meters]), encoding="utf-8")
        load_process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "energy_load.py"),
                                         str(config.broker.port), str(credentials), "16", str(seconds + 5), "4"],
                                        stdout=subprocess.PIPE, text=True)
        assert load_process.stdout is not None
        assert load_process.stdout.readline().strip() == "ready"
        cpu_share(2)  # let the curves fill
        busy = cpu_share(seconds)
        curves = sum(1 for c in view._live_curves.values() if c.getData()[0] is not None and len(c.getData()[0]))
        load_process.wait(30)
        view.close()
        hub.stop()
    return [("hub + Energy tab, idle (reference)", f"{idle:.1%} of one core"),
            ("hub + Energy tab, 16 ports at 1 Hz, 16 live curves", f"{busy:.1%} of one core "
             f"({busy - idle:+.1%} over idle; {curves} curves drawing)")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 s of ingest, 30 days of graph, 10 s live")
    parser.add_argument("--only", type=int, choices=(1, 2, 3), help="run one part")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.year_days, args.repeats = 10, 30, 3
    app = QApplication.instance() or QApplication([])
    for title, run in (("1. ingest at %d readings/s for %d s" % (args.rate, args.seconds),
                        lambda: ingest(args.rate, args.seconds)),
                       ("2. one port, %d days at 1 Hz, in the Energy tab" % args.year_days,
                        lambda: graph(app, args.year_days, args.repeats)),
                       ("3. live ports", lambda: live(app, args.seconds))):
        if args.only and not title.startswith(f"{args.only}."):
            continue
        rows = run()
        print(f"\n{title}")
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"  {name:<{width}}  {value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
