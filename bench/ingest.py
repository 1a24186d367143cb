"""Ingest benchmark: devices -> embedded broker -> device worker -> database and GUI, against broker-only pass-through.

    python bench/ingest.py [--devices 200] [--seconds 20] [--quick]

Each scenario runs twice in the same process and run: once as "broker only" (the embedded broker and one paho
subscriber, no database, no GUI: the reference) and once through the whole pipeline (Hub with store writer, bridge
and a Qt event loop with a 10 ms timer whose lateness is recorded). The load comes from bench/publisher.py in a
separate process. Latencies are from the publisher's send time (in the payload) to: the subscriber's callback
(broker only), the database commit, and the bridge's devicesChanged signal.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.stats import pct  # noqa: E402
from kiosk.app import freeze_startup_objects  # noqa: E402
from kiosk.config import load  # noqa: E402
from kiosk.services.broker.gatekeeper import Gatekeeper, internal_credentials  # noqa: E402
from kiosk.services.broker.process import BrokerProcess, InProcessBroker  # noqa: E402
from kiosk.services.broker.service import BrokerService, ListenerSpec  # noqa: E402
from kiosk.services.hub import Hub  # noqa: E402
from kiosk.services.loop import ServiceLoop  # noqa: E402
from kiosk.services.mqtt_client import close_client  # noqa: E402
from kiosk.store.db import open_store  # noqa: E402
from kiosk.store.devices import DeviceRegistry  # noqa: E402
from kiosk.ui.bridge import Bridge  # noqa: E402
from tests.helpers import free_port  # noqa: E402  (ports below the ephemeral range)


@dataclass
class Result:
    """One scenario. The delivered rate is deliveries over the time from the first to the last delivery."""

    name: str
    sent: int = 0
    delivered: int = 0
    first: float | None = None
    last: float | None = None
    latency_ms: list[float] = field(default_factory=list)
    gui_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)
    storm_late_ms: list[float] = field(default_factory=list)
    puback_ms: list[float] = field(default_factory=list)

    def delivered_at(self, count: int, now: float) -> None:
        self.delivered += count
        self.first = now if self.first is None else self.first
        self.last = now

    @property
    def rate(self) -> float:
        if self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return self.delivered / (self.last - self.first)


class Publisher:
    """bench/publisher.py in its own process; `ready` is set once all its devices are connected."""

    def __init__(self, port: int, credentials: Path, rate: float, seconds: float) -> None:
        self.ready = threading.Event()
        self.answer: dict[str, Any] = {}
        self._process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "publisher.py"), str(port),
                                          str(credentials), str(rate), str(seconds), str(QOS)],
                                         stdout=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip() == "ready":
                self.ready.set()
            elif line.startswith("{"):
                self.answer = json.loads(line)

    def done(self) -> bool:
        return self._process.poll() is not None

    def wait(self, app: QApplication | None) -> dict[str, Any]:
        if app is None:
            self._process.wait()
        else:
            loop = QEventLoop()
            poll = QTimer()
            poll.timeout.connect(lambda: self.done() and loop.quit())
            poll.start(50)
            loop.exec()
            poll.stop()
        self._reader.join(5)
        return self.answer


def drain(count: Any, app: QApplication | None, quiet_s: float = 1.5, limit_s: float = 120) -> None:
    """Wait until deliveries stop growing for `quiet_s` (the broker's backlog has drained)."""
    deadline = time.monotonic() + limit_s
    last, still_since = count(), time.monotonic()
    while time.monotonic() < deadline:
        if app is not None:
            app.processEvents()
        time.sleep(0.05)
        now = count()
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > quiet_s:
            return


def provision(data_dir: Path, devices: int) -> tuple[Path, Any]:
    engine = open_store(f"sqlite:///{data_dir / 'kiosk.db'}")
    registry = DeviceRegistry(engine)
    creds = [registry.create(f"bench {i}", "sensor", "bench") for i in range(devices)]
    path = data_dir / "bench-credentials.json"
    path.write_text(json.dumps([[info.id, token] for info, token in creds]))
    return path, engine


BROKER_PROCESS = "child"  # set from --broker-process: where both the reference and the pipeline run the broker
QOS = 1  # set from --qos: what the devices publish at (1: each reading acknowledged)


def broker_only(data_dir: Path, credentials: Path, rate: float, seconds: float, name: str) -> Result:
    internal = internal_credentials(data_dir)
    port = free_port()
    spec = ListenerSpec("127.0.0.1", port)
    loop = ServiceLoop()
    loop.start()
    if BROKER_PROCESS == "child":
        broker: Any = BrokerProcess(spec, f"sqlite:///{data_dir / 'kiosk.db'}", data_dir, "WARNING")
    else:
        registry = DeviceRegistry(open_store(f"sqlite:///{data_dir / 'kiosk.db'}"))
        broker = InProcessBroker(loop, BrokerService(spec, Gatekeeper(registry, internal)))
    broker.start()
    result = Result(name)
    ready = threading.Event()
    lock = threading.Lock()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        sent = json.loads(message.payload)["value"]
        with lock:
            result.delivered_at(1, now)
            result.latency_ms.append((now - sent) * 1000)

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub", protocol=mqtt.MQTTv311)
    sub.username_pw_set(internal.username, internal.password)
    sub.on_connect = lambda c, *_a: c.subscribe("devices/+/+")
    sub.on_subscribe = lambda *_a: ready.set()
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    ready.wait(10)
    answer = Publisher(port, credentials, rate, seconds).wait(None)
    drain(lambda: result.delivered, None)
    result.sent = answer["sent"]
    result.puback_ms = answer.get("puback_ms", [])
    close_client(sub)
    broker.stop()
    loop.stop()
    return result


def pipeline(app: QApplication, data_dir: Path, credentials: Path, rate: float, seconds: float, name: str,
             sync: str = "full") -> Result:
    config = load({"data_dir": str(data_dir), "broker.port": free_port(), "http.port": 0,
                   "broker.bind": "127.0.0.1", "broker.process": BROKER_PROCESS, "log.level": "WARNING",
                   "broker.journal_sync": sync}, env={}, config_dir=data_dir)
    bridge = Bridge()
    result = Result(name)
    last_sent: dict[str, float] = {}
    hub = Hub(config, bridge)
    handle = hub.ingest.handle

    def measured(topic: str, payload: bytes, at: float | None) -> object:
        sent = json.loads(payload)["value"]
        last_sent[topic.split("/")[1]] = sent
        return handle(topic, payload, mark=sent, at=at)

    assert hub.journal_reader is not None
    hub.journal_reader._handle = measured  # the bench needs the publisher's send time as the row's mark

    def committed(info: Any) -> None:
        result.delivered_at(len(info.marks), info.committed_at)
        result.latency_ms.extend((info.committed_at - m) * 1000 for m in info.marks)

    def gui(snapshots: list[Any]) -> None:
        now = time.time()
        result.gui_ms.extend((now - last_sent[s.id]) * 1000 for s in snapshots if s.id in last_sent)

    hub.writer.on_commit(committed)
    bridge.devicesChanged.connect(gui)
    clock = QElapsedTimer()
    ticker = QTimer()
    ticker.setInterval(10)

    publisher: Publisher | None = None

    def tick() -> None:
        if clock.isValid():
            late = max(0.0, clock.nsecsElapsed() / 1e6 - 10)
            steady = publisher is not None and publisher.ready.is_set() and not publisher.done()
            (result.late_ms if steady else result.storm_late_ms).append(late)
        clock.restart()

    ticker.timeout.connect(tick)
    hub.start()
    freeze_startup_objects()  # as kiosk.app does once the services run
    hub.link.connected.wait(10)
    ticker.start()
    publisher = Publisher(config.broker.port, credentials, rate, seconds)
    answer = publisher.wait(app)
    drain(lambda: hub.ingest.accepted, app)
    ticker.stop()
    hub.writer.flush(10)
    result.sent = answer["sent"]
    result.puback_ms = answer.get("puback_ms", [])
    hub.stop()
    for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
        (data_dir / name).unlink(missing_ok=True)  # each run starts with an empty journal
    bridge.deleteLater()
    return result


def raw_commit_ms(folder: Path, commits: int = 300) -> dict[str, tuple[float, float]]:
    """The reference for the journal's cost: one-row commits with raw sqlite3 in WAL mode on the same disk, per
    synchronous level: (p50, p99) ms."""
    import sqlite3

    out = {}
    for level in ("full", "normal", "off"):
        path = folder / f"raw-{level}.db"
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={level.upper()}")
        connection.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, payload BLOB)")
        times = []
        for _ in range(commits):
            started = time.perf_counter()
            connection.execute("INSERT INTO t (payload) VALUES (?)", (b'{"value": 1795360000.123}',))
            times.append((time.perf_counter() - started) * 1000)
        connection.close()
        out[level] = (pct(times, 50), pct(times, 99))
    return out


def table(rows: list[Result]) -> str:
    head = (f"{'scenario':52} {'sent':>7} {'msg/s':>7} {'ack p50':>7} {'ack p99':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'GUI p50':>7} {'GUI p99':>7} {'late p99':>8} {'late max':>8} {'connect-storm late max':>22}")
    lines = [head, "-" * len(head)]
    for r in rows:
        gui50 = f"{pct(r.gui_ms, 50):7.1f}" if r.gui_ms else f"{'-':>7}"
        gui99 = f"{pct(r.gui_ms, 99):7.1f}" if r.gui_ms else f"{'-':>7}"
        late99 = f"{pct(r.late_ms, 99):8.1f}" if r.late_ms else f"{'-':>8}"
        latemax = f"{max(r.late_ms):8.1f}" if r.late_ms else f"{'-':>8}"
        storm = f"{max(r.storm_late_ms):22.1f}" if r.storm_late_ms else f"{'-':>22}"
        ack50 = f"{pct(r.puback_ms, 50):7.1f}" if r.puback_ms else f"{'-':>7}"
        ack99 = f"{pct(r.puback_ms, 99):7.1f}" if r.puback_ms else f"{'-':>7}"
        lines.append(f"{r.name:52} {r.sent:7d} {r.rate:7.0f} {ack50} {ack99} {pct(r.latency_ms, 50):7.1f} "
                     f"{pct(r.latency_ms, 99):7.1f} {gui50} {gui99} {late99} {latemax} {storm}")
    return "\n".join(lines)


def keeps_up(result: Result) -> bool:
    """A path keeps up with a rate when it delivers 99 % of it and p99 latency stays under 500 ms."""
    return result.delivered >= 0.99 * result.sent and pct(result.latency_ms, 99) < 500


def sustained(data: Path, credentials: Path, app: QApplication, rates: list[int],
              seconds: float) -> tuple[int, int, list[Result]]:
    """Step the offered rate up; at each step run the reference and then the pipeline back to back, so that both
    see the same machine. Returns the highest rate each kept up with, and every run."""
    best_ref = best_pipe = 0
    runs: list[Result] = []
    for rate in rates:
        ref_ok = pipe_ok = False
        if best_ref == runs_rate(runs, "broker", rate):
            ref = broker_only(data, credentials, rate, seconds, f"{rate} msg/s: broker only (reference)")
            runs.append(ref)
            ref_ok = keeps_up(ref)
            best_ref = rate if ref_ok else best_ref
        if best_pipe == runs_rate(runs, "pipeline", rate):
            pipe = pipeline(app, data, credentials, rate, seconds, f"{rate} msg/s: pipeline to commit")
            runs.append(pipe)
            pipe_ok = keeps_up(pipe)
            best_pipe = rate if pipe_ok else best_pipe
        if not ref_ok and not pipe_ok:
            break
    return best_ref, best_pipe, runs


def runs_rate(runs: list[Result], kind: str, rate: int) -> int:
    """The best rate so far of one kind, as long as it has not yet failed (a failed path is not retried)."""
    mine = [r for r in runs if kind in r.name]
    if mine and not keeps_up(mine[-1]):
        return -1
    return int(mine[-1].name.split()[0]) if mine else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--quick", action="store_true", help="short runs, to check the bench itself works")
    parser.add_argument("--broker-process", choices=("child", "thread"), default="child",
                        help="where the broker runs, for the reference and the pipeline alike (default: child)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1, help="what the devices publish at (default 1)")
    args = parser.parse_args()
    global BROKER_PROCESS, QOS
    BROKER_PROCESS = args.broker_process
    QOS = args.qos
    seconds = 4 if args.quick else args.seconds
    step_seconds = 4 if args.quick else 8
    rates = [800, 1000, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000, 2200, 2400]
    app = QApplication.instance() or QApplication([])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        credentials, engine = provision(data, args.devices)
        engine.dispose()
        n = args.devices
        for rate, label in ((n, f"{n} devices x 1 msg/s"), (500, "500 msg/s")):
            rows.append(broker_only(data, credentials, rate, seconds, f"{label}: broker only (reference)"))
            for sync in ("full", "normal", "off") if rate == n else ("full",):
                rows.append(pipeline(app, data, credentials, rate, seconds,
                                     f"{label}: pipeline, journal {sync}", sync))
        ref_best, pipe_best, steps = sustained(data, credentials, app, rates, step_seconds)
        raw = raw_commit_ms(data)
    print(f"ingest benchmark, {args.devices} devices, QoS {QOS}, {os.cpu_count()} cores, broker in a "
          f"{'child process' if BROKER_PROCESS == 'child' else 'thread of the hub'}")
    print("ack: publish -> PUBACK at the device (pipeline: the message is in the journal on disk);")
    print("p50/p99: publish -> subscriber (broker only) or -> database commit (pipeline); GUI: -> devicesChanged;")
    print("late: how late a 10 ms GUI timer fired while devices published (connect storm: while they logged in)")
    print(table(rows))
    print(f"\nsustained rate search, {step_seconds:g} s per step (keeps up: >= 99 % delivered and p99 < 500 ms)")
    print(table(steps))
    print("\nreference: one-row commits with raw sqlite3 (WAL) on the same disk: "
          + ", ".join(f"synchronous={level} p50 {p50:.2f} ms p99 {p99:.2f} ms" for level, (p50, p99) in raw.items()))
    print(f"\nhighest sustained rate: broker only {ref_best} msg/s, pipeline {pipe_best} msg/s "
          f"({pipe_best / ref_best if ref_best else float('nan'):.0%} of broker only)")


if __name__ == "__main__":
    main()
