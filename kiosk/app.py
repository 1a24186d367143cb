"""Composition root: settings -> role -> (window first) -> hub services -> bridge -> views; clean stop on SIGTERM.

The window is painted before SQLAlchemy, amqtt, paho and aiohttp are imported: those load on a starter thread
after the first paint (DESIGN.md 3a measures ~1 s for them on this machine).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk import logs
from kiosk.cli import build_parser, run_command, settings
from kiosk.config import Config, ConfigError

log = logging.getLogger("kiosk")
_IMPORTED_AT = time.monotonic()
EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 3  # another hub runs on this data folder (`kiosk stop` stops it)
WINDOW_SETTINGS = "window.ini"  # the desk window's own choices (what closing it does), in the config folder
STATION_SETTINGS = "station.ini"  # a station's window: its place per screen, the export folder
FIRST_PAINT_GRACE_MS = 3000


def has_screen(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether a window can be shown: an X11 or Wayland display, or an explicitly chosen Qt platform."""
    if env.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # every file the kiosk writes (database, journal, exports, backups) is its owner's alone
    args = build_parser().parse_args(argv)
    if args.command not in (None, "run"):
        return run_command(args)
    try:
        config = settings(args, strict_file=True)
    except ConfigError as exc:
        print(f"kiosk: {exc}\nFix the file, or move it aside to start on the defaults.", file=sys.stderr)
        return EXIT_CONFIG
    logs.setup(config.log.level)
    role = config.role
    if role == "display":
        if not has_screen():
            print("kiosk: the wall display needs a screen (DISPLAY/WAYLAND_DISPLAY unset)", file=sys.stderr)
            return EXIT_CONFIG
        return run_display(config)
    if role == "station":
        if not has_screen():
            print("kiosk: a station needs a screen (DISPLAY/WAYLAND_DISPLAY unset)", file=sys.stderr)
            return EXIT_CONFIG
        return run_station(config)
    if role == "hub" and not has_screen():
        print("kiosk: no display found (DISPLAY/WAYLAND_DISPLAY unset); running as the headless hub")
        role = "headless"
    if role == "headless":
        return run_headless(config)
    return run_window(config, hub_arguments(args, config))


class _LogEvents:
    """HubEvents for the headless hub: a status line every minute, nothing per message."""

    def __init__(self) -> None:
        self._ticks = 0

    def device_changed(self, snapshot: Any) -> None:
        pass

    def stalls_changed(self, views: Any, complete: bool = False) -> None:
        pass

    def lockers_changed(self) -> None:
        pass

    def device_removed(self, device_id: str) -> None:
        pass

    def hub_status(self, status: Any) -> None:
        self._ticks += 1
        if self._ticks % 60 == 1:
            broker = status.broker
            log.info("status: broker %s, %s clients, %.1f msg/s, database %s%s",
                     "up" if broker and broker.running else ("external" if not status.broker_embedded else "down"),
                     broker.connected if broker else "?", status.ingest.per_second, status.database,
                     "" if status.database_ok else f" (error: {status.database_error})")


def run_headless(config: Config) -> int:
    from kiosk.services.hub import Hub
    from kiosk.services.hub_lock import HubAlreadyRunning
    from kiosk.services.systemd import Notifier

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from kiosk.doctor import unusable_data_dir

    problem = unusable_data_dir(config.data_dir)
    if problem is not None:
        print(f"kiosk: {problem}", file=sys.stderr)
        return 1
    systemd = Notifier()  # does nothing unless systemd started us with Type=notify
    hub: Hub | None = None
    try:
        # The watchdog is fed while the store writer's thread lives: a hub that stores nothing is restarted.
        hub = Hub(config, _LogEvents(), watchdog=systemd.watchdog_job(lambda: hub is not None and
                                                                      hub.writer.health().alive))
    except OSError as exc:  # a database file it may not open, a disk that is gone: one line, not a traceback
        print(f"kiosk: the hub could not start: {exc.strerror or exc}: {exc.filename or config.data_dir}",
              file=sys.stderr)
        return 1
    try:
        hub.start()
    except HubAlreadyRunning as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        hub.stop()
        return EXIT_ALREADY_RUNNING
    except Exception as exc:
        log.error("the hub could not start: %s", exc)
        hub.stop()
        return 1
    freeze_startup_objects()
    summary = (f"broker {hub.broker_address()}, HTTP port {config.http.port or 'off'}, "
               f"database {config.database_label}")
    log.info("headless hub running: %s; SIGTERM or Ctrl+C stops", summary)
    systemd.ready(summary)
    stop.wait()
    log.info("stopping")
    systemd.stopping()
    hub.stop()
    systemd.close()
    return 0


def run_window(config: Config, arguments: Sequence[str] = ()) -> int:
    """The desk window: a client of the hub on this machine, which it starts as its own process when none runs.

    Closing the window, or killing it, never stops data collection by surprise: the hub is another process. When
    this window started it, closing asks once (keep collecting / stop the hub); SIGTERM or Ctrl+C stop the hub this
    window started, as quitting the window on purpose.
    """
    from kiosk.services.hub_lock import WINDOW_LOCK_FILE, HubAlreadyRunning, HubLock

    window_lock = HubLock(config.data_dir, WINDOW_LOCK_FILE)
    try:
        window_lock.acquire({"host": "window"})
    except HubAlreadyRunning as exc:  # before any window: this machine's window runs already
        return _bring_forward(exc.info)
    try:
        return _window(config, arguments)
    finally:
        window_lock.release()


def _window(config: Config, arguments: Sequence[str]) -> int:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.ui import theme
    from kiosk.ui.bridge import Bridge
    from kiosk.ui.close_guard import CloseGuard
    from kiosk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # a window kept in the background stays reachable from the tray
    app.setApplicationName("Front Desk Kiosk")
    theme.apply(app)
    bridge = Bridge()
    window = MainWindow(bridge, database=config.database_label, idle_lock_s=config.admin.idle_lock_s,
                        later_tabs=True, reader=(config.desk.reader_max_gap_ms, config.desk.reader_min_chars,
                                   config.desk.reader_device))
    settings = QSettings(str(config.config_dir / WINDOW_SETTINGS), QSettings.Format.IniFormat)
    from kiosk.ui.widgets.tables import ExportFolder

    ExportFolder.keep_in(settings)
    guard = CloseGuard(window, settings)
    guard.hosting = False  # until this window has started the hub itself
    window.close_guard = guard
    started: list[HubStarter] = []

    def attach() -> None:
        """After the first paint: the link to the hub (kiosk.client loads here, not before the paint), then the
        starter that finds or starts the hub."""
        if started:
            return
        window.complete()  # a window never painted (minimised) builds its tabs here
        from kiosk.ui.hub_link import HubLink

        link = HubLink(bridge, window)
        window.follow(link)
        connect_window(window, link)
        starter = HubStarter(config, arguments, link.found.emit, bridge.servicesFailed.emit, link.foundHub.emit,
                             link.unreachable)
        link.foundHub.connect(lambda started_here: setattr(guard, "hosting", started_here))
        app.aboutToQuit.connect(link.stop)
        app.aboutToQuit.connect(starter.finish)
        started.append(starter)
        window.hub_starter = starter  # the banner's "Start the hub" when the hub here is gone
        starter.start()

    def stop_hub_at_exit() -> None:
        for starter in started:
            starter.stop_hub_at_exit(True)

    window.firstPainted.connect(lambda: log.info("window painted %.2f s after launch", _since_launch()))
    window.firstPainted.connect(attach)
    QTimer.singleShot(FIRST_PAINT_GRACE_MS, attach)  # a window that is never painted (minimised) still works
    bridge.servicesReady.connect(freeze_startup_objects)  # on the GUI thread: see freeze_startup_objects
    guard.stopRequested.connect(stop_hub_at_exit)
    guard.stopRequested.connect(app.quit)
    guard.keptInBackground.connect(lambda: log.info("window closed; the hub keeps collecting in the background "
                                                    "(start the kiosk again to bring the window back, or "
                                                    "`kiosk stop`)"))
    window.closed.connect(app.quit)
    from kiosk.ui.window_place import WindowPlace

    place = WindowPlace(window, settings, "desk")  # size, position and maximised state, per screen
    app.aboutToQuit.connect(place.save)
    place.show()

    def quitting_on_purpose() -> None:
        guard.allow_close = True
        stop_hub_at_exit()

    _quit_on_signals(app, before=quitting_on_purpose)
    _bring_forward_on(signal.SIGUSR1, guard.bring_back)
    return app.exec()


def _bring_forward(running: dict[str, Any]) -> int:
    """A second start of the window: bring the running window forward."""
    pid = running.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        else:
            print(f"kiosk: the kiosk window already runs here (process {pid}); it was brought forward")
            return 0
    print("kiosk: a kiosk window already runs on this data folder", file=sys.stderr)
    return EXIT_ALREADY_RUNNING


def hub_arguments(args: Any, config: Config) -> list[str]:
    """The settings flags a hub started by the window gets: the same folders, ports and broker as the window."""
    out = ["--data-dir", str(config.data_dir), "--config-dir", str(config.config_dir)]
    for flag, value in (("--broker-port", args.broker_port), ("--http-port", args.http_port),
                        ("--broker", args.broker), ("--log-level", args.log_level)):
        if value is not None:
            out += [flag, str(value)]
    if args.legacy_stallsense:
        out.append("--legacy-stallsense")
    return out


class HubStarter:
    """Finds (or starts, as `kiosk --headless`) the hub on this machine on a thread after the first paint, and
    hands the window an API client for it; stops the hub at exit only if this window started it and was asked to."""

    SHARED_RETRY_S = 2.0  # a window waiting for the hub service (desk.hub_file) looks again this often

    def __init__(self, config: Config, arguments: Sequence[str], found: Any, failed: Any,
                 restarted: Any = lambda started_here: None, waiting: Any = lambda reason: None) -> None:
        self._config = config
        self._waiting = waiting  # (reason): the hub service cannot be reached yet (desk.hub_file); tried again
        self._finished = threading.Event()
        self._restarted = restarted  # (started here) after start_again
        self._arguments = list(arguments)
        self._found = found  # (ApiClient, started here): queued to the GUI thread
        self._failed = failed  # (reason)
        self._thread: threading.Thread | None = None
        self.hub: Any = None  # kiosk.client.local_hub.LocalHub once found
        self._stop_at_exit = False

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hub-starter", daemon=True)
        self._thread.start()

    def can_start(self) -> bool:
        """Whether a hub can be started here now: none holds the data folder (a stopped one, not a network cut)."""
        from kiosk.client.local_hub import lock_info

        if self._config.desk.hub_file:  # the hub service's: started by systemd, never by this window
            return False
        return lock_info(self._config.data_dir) is None and not (self._thread is not None and self._thread.is_alive())

    def start_again(self) -> None:
        """The banner's *Start the hub*: start it as at launch; the window's stream reattaches by itself."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, args=(True,), name="hub-starter", daemon=True)
        self._thread.start()

    def _run(self, again: bool = False) -> None:
        from kiosk.client.http import ApiClient
        from kiosk.client.local_hub import HubNotStarted, hub_command, read_station_token, start_hub

        if self._config.desk.hub_file:
            self._attach_shared(Path(self._config.desk.hub_file))
            return
        data_dir = self._config.data_dir
        try:
            self.hub = start_hub(data_dir, hub_command(self._arguments), self._config.http.bind, _answers)
            token = read_station_token(data_dir)
            if not token:
                raise HubNotStarted(f"the hub runs but {data_dir / 'secrets'} holds no station token for this "
                                    "window (is the data folder another user's?)")
        except (HubNotStarted, OSError) as exc:
            log.error("the hub could not be reached: %s", exc)
            self._failed(str(exc))
            return
        log.info("%s the hub (process %s) at %s", "started" if self.hub.started_here else "attached to",
                 self.hub.pid, self.hub.url)
        if again:  # the window's link is attached already: its stream finds the new hub by itself
            self._restarted(self.hub.started_here)
            return
        self._found(ApiClient(self.hub.url, token), self.hub.started_here)

    def _attach_shared(self, path: Path) -> None:
        """desk.hub_file: the hub service's (another user's) as its share file describes it, waited for while it
        is not there or does not answer; the window says why meanwhile, once per reason."""
        from kiosk.client.http import ApiClient
        from kiosk.client.local_hub import HubNotStarted, shared_hub

        said = None
        while not self._finished.is_set():
            try:
                hub, token = shared_hub(path)
                if not _answers(hub.url):
                    raise HubNotStarted(f"the hub service on this PC does not answer at {hub.url} (`systemctl status "
                                        "kiosk-hub` says why)")
            except HubNotStarted as exc:
                if str(exc) != said:
                    said = str(exc)
                    log.warning("waiting for the hub: %s", exc)
                    self._waiting(said)
                self._finished.wait(self.SHARED_RETRY_S)
                continue
            self.hub = hub
            log.info("attached to the hub service (process %s) at %s", hub.pid, hub.url)
            self._found(ApiClient(hub.url, token), False)
            return

    def stop_hub_at_exit(self, wanted: bool) -> None:
        self._stop_at_exit = wanted

    def finish(self) -> None:
        """At exit: stop the hub when this window started it and quitting means stopping it."""
        from kiosk.client.local_hub import START_TIMEOUT_S, stop_hub

        self._finished.set()
        if self._thread is not None:  # a hub still starting is waited for when it is to be stopped
            self._thread.join(START_TIMEOUT_S + 15 if self._stop_at_exit else 10)
        hub = self.hub
        if hub is None or not hub.started_here or not self._stop_at_exit or hub.pid is None:
            return
        log.info("stopping the hub (process %s)", hub.pid)
        if stop_hub(self._config.data_dir, hub.pid):
            log.info("the hub stopped")
        else:
            log.warning("the hub (process %s) is still stopping; `kiosk stop` waits for it", hub.pid)


def _answers(url: str) -> bool:
    """Whether a kiosk hub's API answers at `url` (its public /hub)."""
    from kiosk.client.http import ApiClient, HubUnreachable
    from kiosk.protocol.api import ApiError

    client = ApiClient(url, "", timeout_s=2.0)
    try:
        client.get("/hub")
        return True
    except (HubUnreachable, ApiError):
        return False
    finally:
        client.close()


def _bring_forward_on(signum: int, show: Any) -> None:
    """A second start of the kiosk signals this process: its window comes back (Python runs the handler on the GUI
    thread, between Qt events, thanks to the timer of _quit_on_signals)."""
    def bring_forward(*_args: Any) -> None:
        log.info("the kiosk was started again: its window comes forward")
        show()

    signal.signal(signum, bring_forward)


def connect_window(window: Any, link: Any) -> None:
    """What each tab may ask of the hub, over its API (kiosk.ui.hub_link); admin actions sign in through the
    window's gate, which opens a session on the hub."""
    window.demoRequested.connect(lambda: _start_demo(window, link))
    window.stalls.provider = lambda: (link.stalls, window.admin_gate) if link.stalls is not None else None
    window.lockers.provider = lambda: (link.lockers, window.admin_gate) if link.lockers is not None else None
    window.energy.provider = lambda: link.energy
    window.admin.provider = lambda: link.admin


def _start_demo(window: Any, link: Any) -> None:
    from kiosk.ui.widgets.background import Background

    if link.admin is None:
        return
    worker = Background(window)
    window.demo_worker = worker
    worker.run(link.admin.start_demo, lambda started: None,
               lambda error: window.show_connection(False, f"the demonstration did not start: {error}"))


def run_display(config: Config) -> int:
    """The wall display: the hub's stall tiles through its API (no database, no broker of its own).

    On the hub's machine it finds the hub by itself (its data folder's station token); elsewhere `--hub URL` with a
    display's token (`kiosk device add --kind display`) in KIOSK_STATION_TOKEN or station.token_file. A display set
    up on the broker (`--broker mqtt://HUB:1883` with a display login in broker.username / broker.password) keeps
    following the hub's retained MQTT state as before.
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.ui import theme
    from kiosk.ui.display.display_window import DisplayBridge, DisplayWindow, parse_clock
    from kiosk.ui.widgets.pin_dialog import AdminPin

    try:
        parse_clock(config.display.dim_from)
        parse_clock(config.display.dim_to)
    except ValueError:
        print("kiosk: display.dim_from and display.dim_to must be times like 22:00", file=sys.stderr)
        return EXIT_CONFIG
    try:
        feed_of = _display_feed(config)
    except ConfigError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Front Desk Kiosk display")
    theme.apply(app)
    bridge = DisplayBridge()
    window = DisplayWindow(bridge, AdminPin(config.data_dir), config.data_dir / "display.ini",
                           config.display.dim_from, config.display.dim_to, config.display.dim_brightness,
                           show_lockers=config.display.show_lockers)
    feed, where = feed_of(bridge)
    checker = QTimer(window)
    checker.setInterval(1000)
    checker.timeout.connect(feed.check)
    checker.start()
    feed.start()
    window.show_on_remembered_screen()
    _quit_on_signals(app, before=lambda: setattr(window, "allow_close", True))
    app.aboutToQuit.connect(feed.stop)
    log.info("wall display following the hub at %s", where)
    return app.exec()


def _display_feed(config: Config) -> Any:
    """How this display follows its hub: a function of the display's events giving (feed, where), or ConfigError."""
    lockers = config.display.show_lockers
    if config.broker.url or config.broker.username:  # a display set up on the broker (MQTT)
        from kiosk.services.broker.gatekeeper import internal_credentials
        from kiosk.services.display_feed import DisplayFeed
        from kiosk.services.mqtt_client import BrokerAddress

        address = (BrokerAddress.parse(config.broker.url) if config.broker.url
                   else BrokerAddress("127.0.0.1", config.broker.port))
        if config.broker.username:
            username, password = config.broker.username, config.broker.password
        else:  # on the hub's machine: its internal account
            credentials = internal_credentials(config.data_dir)
            username, password = credentials.username, credentials.password
        return lambda events: (DisplayFeed(address, username, password, events, lockers=lockers), address)
    from kiosk.client.display_feed import ApiDisplayFeed
    from kiosk.client.http import ApiClient
    from kiosk.client.local_hub import api_url, lock_info, read_station_token

    url, token = config.station.hub_url, station_token(config)
    if not url:  # the hub on this machine
        info = lock_info(config.data_dir) or {"http_port": config.http.port}
        url = api_url(info, config.http.bind) or ""
        token = token or read_station_token(config.data_dir) or ""
        if not url:
            raise ConfigError("the hub here has its HTTP server off (http.port = 0); the display reads the hub's API")
        if not token:
            raise ConfigError(f"no hub has run on {config.data_dir} yet (its station token is missing): start the "
                              "hub first, or give --hub URL and a display's token")
    elif not token:
        raise ConfigError("a display of a hub elsewhere needs its own token: `kiosk device add --name Lobby --kind "
                          "display` on the hub, then KIOSK_STATION_TOKEN or station.token_file here")
    try:
        client = ApiClient(url, token)
    except ValueError as exc:
        raise ConfigError(f"station.hub_url: {exc}") from None
    return lambda events: (ApiDisplayFeed(client, events, lockers=lockers), client.base_url)


def station_token(config: Config) -> str:
    """The station's token: station.token (or KIOSK_STATION_TOKEN), else the first line of station.token_file."""
    if config.station.token:
        return str(config.station.token).strip()
    if config.station.token_file:
        try:
            with open(config.station.token_file, encoding="utf-8") as source:
                return source.readline().strip()
        except OSError as exc:
            raise ConfigError(f"station.token_file: cannot read {config.station.token_file}: "
                              f"{exc.strerror}") from None
    return ""


def run_station(config: Config) -> int:
    """A second desk: the Lockers tab of the hub at station.hub_url, through its API (no database, no broker)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from kiosk.client.energy import RemoteEnergy
    from kiosk.client.events import EventStream
    from kiosk.client.http import ApiClient
    from kiosk.client.lockers import RemoteLockers
    from kiosk.client.session import RemoteOperators
    from kiosk.client.stalls import RemoteStalls, tiles_of
    from kiosk.ui import theme
    from kiosk.ui.station_window import StationWindow

    try:
        token = station_token(config)
    except ConfigError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not config.station.hub_url or not token:
        print("kiosk: a station needs the hub's address and its own token: kiosk --station --hub "
              "http://HUB:8080 with the token (from `kiosk device add --kind station` on the hub) in "
              "KIOSK_STATION_TOKEN or station.token_file", file=sys.stderr)
        return EXIT_CONFIG
    try:
        client = ApiClient(config.station.hub_url, token)
    except ValueError as exc:
        print(f"kiosk: station.hub_url: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Front Desk Kiosk station")
    theme.apply(app)
    window = StationWindow(client.base_url, RemoteLockers(client), RemoteOperators(client),
                           config.admin.idle_lock_s, energy_ops=RemoteEnergy(client),
                           stall_ops=RemoteStalls(client), tiles_of=tiles_of,
                           reader=(config.desk.reader_max_gap_ms, config.desk.reader_min_chars,
                                   config.desk.reader_device))
    stream = EventStream(client.websocket_target, window.events.event.emit, window.events.state.emit)
    stream.start()
    from kiosk.ui.widgets.tables import ExportFolder
    from kiosk.ui.window_place import WindowPlace

    settings = QSettings(str(config.config_dir / STATION_SETTINGS), QSettings.Format.IniFormat)
    ExportFolder.keep_in(settings)
    place = WindowPlace(window, settings, "station")
    app.aboutToQuit.connect(place.save)
    place.show()
    _quit_on_signals(app)
    app.aboutToQuit.connect(stream.stop)
    app.aboutToQuit.connect(client.close)
    log.info("station following the hub at %s", client.base_url)
    return app.exec()


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (Qt, SQLAlchemy, amqtt modules...) out of the garbage collector's walk.

    A full collection otherwise visits all of them and paused the GUI thread for up to 75 ms at 500 msg/s;
    frozen, the worst pause measured 13 ms (docs/performance.md). In the window it must run on the GUI thread: a
    collection on another thread could free Qt objects there, which crashes PySide.
    """
    gc.collect()
    gc.freeze()


def _since_launch() -> float:
    """Seconds since this process was created, interpreter start-up included (Linux: 10 ms resolution).

    The process start time in /proc is counted in clock ticks since boot, so it is compared with the boot clock;
    psutil's create_time() adds the boot time in whole seconds and can be off by up to a second.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED_AT


def _quit_on_signals(app: Any, before: Any = None) -> None:
    """SIGTERM/SIGINT close the window cleanly; a timer lets Python run its signal handlers inside Qt's loop."""
    from PySide6.QtCore import QTimer

    def quit_now() -> None:
        if before is not None:
            before()
        app.quit()

    def stop(*_args: Any) -> None:
        # Python runs this between two bytecodes of whatever the GUI thread is doing (the window's start-up, say):
        # the quitting itself waits for the event loop, so it never sees a half-done step.
        QTimer.singleShot(0, quit_now)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
