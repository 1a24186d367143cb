"""Where the embedded broker runs: in a supervised child process (default) or on the hub's service thread.

Both hosts give the hub the same synchronous interface: start, stop, running, stats, drop_device,
connected_device_ids. In a child process the broker has its own interpreter and GIL: measured here it holds about
25 % more messages per second, the GUI no longer competes with it, and a broker crash no longer takes the window down
(the supervisor restarts it). See docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.status import BrokerStats
from kiosk.services.broker.collection import CollectionSchedule
from kiosk.services.broker.gatekeeper import internal_credentials
from kiosk.services.broker.service import BrokerService, ListenerSpec, gatekeeper_for
from kiosk.services.loop import ServiceLoop

log = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0
STATS_EVERY_S = 1.0
SILENT_AFTER_S = 5.0  # a broker process that has sent no report for this long is not responding (stopped, hung)
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
HEALTHY_AFTER_S = 60.0  # a broker that ran this long before it died is restarted after the first delay again


class BrokerStartError(RuntimeError):
    """The broker could not start; the message says why (e.g. the port is in use)."""


class InProcessBroker:
    """The broker on the hub's service loop (broker.process = "thread")."""

    def __init__(self, loop: ServiceLoop, service: BrokerService) -> None:
        self._loop = loop
        self._service = service

    def start(self) -> None:
        try:
            self._loop.run(self._service.start(), timeout=START_TIMEOUT_S)
        except OSError as exc:
            raise BrokerStartError(f"the broker cannot listen: {exc}") from exc

    def stop(self) -> None:
        if self._loop.running:
            self._loop.run(self._service.stop())

    @property
    def running(self) -> bool:
        return self._service.running

    def _snapshot(self) -> tuple[BrokerStats, list[str]]:
        if not self._loop.running:
            return BrokerStats(False, 0, 0, 0, 0, {}, 0, 0.0), []
        if self._loop.on_loop_thread():  # e.g. the health endpoint, served on the same loop: waiting would deadlock
            return self._service.snapshot()
        return self._loop.run(self._service.snapshot_async())

    def stats(self) -> BrokerStats:
        return self._snapshot()[0]

    def drop_device(self, device_id: str) -> None:
        self._loop.submit(self._service.drop_device(device_id))

    def journal_stored(self, seq: int) -> None:
        self._service.journal_stored(seq)

    def connected_device_ids(self) -> list[str]:
        return self._snapshot()[1]


@dataclass(frozen=True)
class _ChildArgs:
    spec: ListenerSpec
    database_url: str
    data_dir: str
    log_level: str


def _parent_gone() -> None:
    """The hub went away (its end of the pipe closed, or this process was handed to another parent): stop at once.

    No orderly shutdown: amqtt's can hang for seconds, and meanwhile an orphan kept accepting logins and
    acknowledging messages that no hub would read (10.1 s once). Everything acknowledged is in the journal; the next
    hub reads it."""
    log.error("the hub process went away: the broker stops now")
    logging.shutdown()
    os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    """Backs up the pipe: the serving loop may be busy in a call when the hub dies."""
    while os.getppid() == parent_pid:
        time.sleep(0.25)
    _parent_gone()


def _child_main(conn: multiprocessing.connection.Connection, args: _ChildArgs) -> None:
    """The broker process: serve until told to stop or until the parent goes away.

    It ignores SIGINT and SIGTERM: Ctrl+C in a terminal and systemd's stop signal the whole process group, and the
    hub must stop its broker itself, in order, rather than see it die and restart it during shutdown.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    from kiosk import logs
    from kiosk.store.db import open_engine
    from kiosk.store.devices import DeviceRegistry

    logs.setup(args.log_level)
    loop = ServiceLoop("broker-loop")
    service = BrokerService(args.spec, gatekeeper_for(args.spec, DeviceRegistry(open_engine(args.database_url)),
                                                      internal_credentials(Path(args.data_dir))))
    loop.start()
    try:
        loop.run(service.start(), timeout=START_TIMEOUT_S)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        loop.stop()
        return
    gc.collect()
    gc.freeze()  # as the hub does: full collections otherwise walk every amqtt/SQLAlchemy object (latency spikes)
    collections = CollectionSchedule()
    collections.install()
    conn.send(("ready", None))
    try:
        _serve(conn, loop, service, collections)
    finally:
        loop.run(service.stop())
        loop.stop()


def _serve(conn: multiprocessing.connection.Connection, loop: ServiceLoop, service: BrokerService,
           collections: CollectionSchedule) -> None:
    next_stats = 0.0
    while True:
        now = time.monotonic()
        if now >= next_stats:
            collections.maybe_collect()
            conn.send(("stats", loop.run(service.snapshot_async())))  # on the loop: see BrokerService.snapshot
            next_stats = now + STATS_EVERY_S
        try:
            if not conn.poll(max(0.0, next_stats - time.monotonic())):
                continue
            command, argument = conn.recv()
        except (EOFError, OSError):
            _parent_gone()
        if command == "stop":
            return
        if command == "stored":
            service.journal_stored(argument)
            continue
        if command == "drop":
            loop.run(service.drop_device(argument))
            conn.send(("stats", loop.run(service.snapshot_async())))


class BrokerProcess:
    """The broker in a supervised child process (broker.process = "child").

    `start()` returns once the child listens, or raises BrokerStartError with the child's reason. If the child dies
    later, the supervisor thread logs it and starts a new one after a back-off (1 s, 2 s, 5 s, 10 s, then 30 s; back
    to 1 s once a broker has run for a minute).
    """

    def __init__(self, spec: ListenerSpec, database_url: str, data_dir: Path, log_level: str = "INFO") -> None:
        self._args = _ChildArgs(spec, database_url, str(data_dir), log_level)
        self._context = multiprocessing.get_context("spawn")  # fork is unsafe with Qt and running threads
        self._process: Any = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._send_lock = threading.Lock()
        self._stats: BrokerStats | None = None
        self._connected: list[str] = []
        self._started_at = 0.0
        self._stats_at = 0.0  # when the child's last report came
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts = 0
        self._crash_loop = 0  # restarts since the broker last ran for HEALTHY_AFTER_S: picks the back-off

    def start(self) -> None:
        self._stopping.clear()
        self._launch()
        self._supervisor = threading.Thread(target=self._supervise, name="broker-supervisor", daemon=True)
        self._supervisor.start()

    def _launch(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_child_main, args=(child, self._args), name="kiosk-broker",
                                        daemon=True)
        process.start()
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            process.kill()
            process.join()
            raise BrokerStartError(f"the broker process did not start within {START_TIMEOUT_S:.0f} s")
        try:
            kind, detail = parent.recv()
        except EOFError:
            process.join(5)
            raise BrokerStartError(f"the broker process exited at start (code {process.exitcode})") from None
        if kind != "ready":
            process.join(5)
            raise BrokerStartError(f"the broker cannot start: {detail}")
        self._process, self._conn = process, parent
        self._started_at = self._stats_at = time.monotonic()
        log.info("embedded broker running in process %d on %s:%d", process.pid, self._args.spec.bind,
                 self._args.spec.port)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            conn = self._conn
            try:
                if conn is not None and conn.poll(0.5):
                    kind, payload = conn.recv()
                    if kind == "stats":
                        self._stats, self._connected = payload
                        self._stats_at = time.monotonic()
                    continue
            except (EOFError, OSError):
                pass
            if self._stopping.is_set() or (self._process is not None and self._process.is_alive()):
                continue
            self._restart()

    def _restart(self) -> None:
        code = self._process.exitcode if self._process is not None else None
        self._stats, self._connected, self._conn = None, [], None
        if self._started_at and time.monotonic() - self._started_at > HEALTHY_AFTER_S:
            self._crash_loop = 0  # it ran well for a while: not a crash loop, restart at once again
        delay = RESTART_DELAYS_S[min(self._crash_loop, len(RESTART_DELAYS_S) - 1)]
        log.error("the broker process died (exit code %s); restarting it in %.0f s", code, delay)
        if self._stopping.wait(delay):
            return
        self.restarts += 1
        self._crash_loop += 1
        try:
            self._launch()
        except BrokerStartError as exc:
            log.error("%s", exc)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            self._supervisor = None
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            try:
                with self._send_lock:
                    conn.send(("stop", None))
            except OSError:
                pass
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                log.error("the broker process did not stop within %.0f s; killing it", timeout)
                process.kill()
                process.join()
        if conn is not None:
            conn.close()
        self._stats = None
        if process is not None:  # not for a broker that never started (a start refused before it)
            log.info("embedded broker stopped")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stats(self) -> BrokerStats:
        if self._stats is not None and self.running:
            silent = time.monotonic() - self._stats_at
            if silent > SILENT_AFTER_S:  # alive, but its last report is old: what it said is not current
                return dataclasses.replace(self._stats, responding=False, silent_s=silent, connected=0,
                                           devices_connected=0)
            return self._stats
        return BrokerStats(self.running, 0, 0, 0, 0, {}, 0, 0.0)

    def drop_device(self, device_id: str) -> None:
        self._send("drop", device_id)

    def journal_stored(self, seq: int) -> None:
        """The hub has stored the journal up to seq: the broker may prune it (any thread)."""
        self._send("stored", seq)

    def _send(self, command: str, argument: Any) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            with self._send_lock:
                conn.send((command, argument))
        except OSError as exc:
            log.warning("could not send %r to the broker process: %s", command, exc)

    def connected_device_ids(self) -> list[str]:
        return list(self._connected)
