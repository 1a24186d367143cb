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
from typing import Any

from kiosk import logs
from kiosk.cli import build_parser, run_command, settings
from kiosk.config import Config, ConfigError

log = logging.getLogger("kiosk")
_IMPORTED_AT = time.monotonic()
EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 3  # another hub runs on this data folder (`kiosk stop` stops it)
WINDOW_SETTINGS = "window.ini"  # the desk window's own choices (what closing it does), in the config folder
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
    logs.setup(config["log.level"])
    role = config["role"]
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
    return run_window(config)


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

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    hub = Hub(config, _LogEvents())
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
    log.info("headless hub running: broker %s, HTTP port %s, database %s; SIGTERM or Ctrl+C stops",
             hub.broker_address(), config["http.port"] or "off", config.database_label)
    stop.wait()
    log.info("stopping")
    hub.stop()
    return 0


def run_window(config: Config) -> int:
    from kiosk.services.hub_lock import running_hub

    running = running_hub(config.data_dir)
    if running is not None:  # before any window: this machine's hub runs already
        return _attach_to_running(config, running)
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.ui import theme
    from kiosk.ui.bridge import Bridge
    from kiosk.ui.close_guard import CloseGuard
    from kiosk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # a window kept in the background leaves the hub running
    app.setApplicationName("Front Desk Kiosk")
    theme.apply(app)
    bridge = Bridge()
    window = MainWindow(bridge, database=config.database_label, idle_lock_s=config["admin.idle_lock_s"])
    starter = ServicesStarter(config, bridge)
    connect_window(window, starter)
    window.firstPainted.connect(lambda: log.info("window painted %.2f s after launch", _since_launch()))
    window.firstPainted.connect(starter.start)
    QTimer.singleShot(FIRST_PAINT_GRACE_MS, starter.start)  # a window that is never painted (minimised) still works
    bridge.servicesReady.connect(freeze_startup_objects)  # on the GUI thread: see freeze_startup_objects
    guard = CloseGuard(window, QSettings(str(config.config_dir / WINDOW_SETTINGS), QSettings.Format.IniFormat))
    window.close_guard = guard
    guard.stopRequested.connect(app.quit)
    guard.keptInBackground.connect(lambda: log.info("window closed; the hub keeps collecting in the background "
                                                    "(start the kiosk again to bring the window back, or "
                                                    "`kiosk stop`)"))
    window.closed.connect(app.quit)
    window.show()
    _quit_on_signals(app, before=lambda: setattr(guard, "allow_close", True))
    _bring_forward_on(signal.SIGUSR1, guard.bring_back)
    app.aboutToQuit.connect(starter.stop)
    return app.exec()


def _attach_to_running(config: Config, running: dict[str, Any]) -> int:
    """A second start of the window: bring the running window forward, or say which hub runs."""
    pid = running.get("pid")
    if running.get("host") == "window" and isinstance(pid, int):
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        else:
            print(f"kiosk: the kiosk already runs here (process {pid}); its window was brought forward")
            return 0
    print(f"kiosk: a hub already runs on {config.data_dir} without a window (process {pid}, broker port "
          f"{running.get('broker_port')}, HTTP port {running.get('http_port')}). This window cannot attach to it "
          "yet; stop it with `kiosk stop` and start the kiosk again.", file=sys.stderr)
    return EXIT_ALREADY_RUNNING


def _bring_forward_on(signum: int, show: Any) -> None:
    """A second start of the kiosk signals this process: its window comes back (Python runs the handler on the GUI
    thread, between Qt events, thanks to the timer of _quit_on_signals)."""
    def bring_forward(*_args: Any) -> None:
        log.info("the kiosk was started again: its window comes forward")
        show()

    signal.signal(signum, bring_forward)


def connect_window(window: Any, starter: ServicesStarter) -> None:
    """What each tab may ask of the hub once it runs; admin actions act as the operator the window's gate knows."""
    window.demoRequested.connect(starter.start_demo)
    window.stalls.provider = lambda: starter.stall_services(window.admin_gate)
    window.lockers.provider = lambda: starter.locker_services(window.admin_gate)
    window.energy.provider = lambda: starter.energy_services(window.admin_gate)
    window.admin.provider = lambda: starter.admin_services(window.admin_gate.who)


def run_display(config: Config) -> int:
    """The wall display: subscribes to the hub's retained stall states; no database, no broker of its own."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.services.broker.gatekeeper import internal_credentials
    from kiosk.services.display_feed import DisplayFeed
    from kiosk.services.mqtt_client import BrokerAddress
    from kiosk.ui import theme
    from kiosk.ui.display_window import DisplayBridge, DisplayWindow, parse_clock
    from kiosk.ui.pin_dialog import AdminPin

    try:
        parse_clock(config["display.dim_from"])
        parse_clock(config["display.dim_to"])
    except ValueError:
        print("kiosk: display.dim_from and display.dim_to must be times like 22:00", file=sys.stderr)
        return EXIT_CONFIG
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Front Desk Kiosk display")
    theme.apply(app)
    address = (BrokerAddress.parse(config["broker.url"]) if config["broker.url"]
               else BrokerAddress("127.0.0.1", config["broker.port"]))
    if config["broker.username"]:
        username, password = config["broker.username"], config["broker.password"]
    else:  # on the hub's own machine: its internal account
        credentials = internal_credentials(config.data_dir)
        username, password = credentials.username, credentials.password
    bridge = DisplayBridge()
    window = DisplayWindow(bridge, AdminPin(config.data_dir), config.data_dir / "display.ini",
                           config["display.dim_from"], config["display.dim_to"], config["display.dim_brightness"],
                           show_lockers=config["display.show_lockers"])
    feed = DisplayFeed(address, username, password, bridge, lockers=config["display.show_lockers"])
    checker = QTimer(window)
    checker.setInterval(1000)
    checker.timeout.connect(feed.check)
    checker.start()
    feed.start()
    window.show_on_remembered_screen()
    _quit_on_signals(app, before=lambda: setattr(window, "allow_close", True))
    app.aboutToQuit.connect(feed.stop)
    log.info("wall display following the hub at %s", address)
    return app.exec()


def station_token(config: Config) -> str:
    """The station's token: station.token (or KIOSK_STATION_TOKEN), else the first line of station.token_file."""
    if config["station.token"]:
        return str(config["station.token"]).strip()
    if config["station.token_file"]:
        try:
            with open(config["station.token_file"], encoding="utf-8") as source:
                return source.readline().strip()
        except OSError as exc:
            raise ConfigError(f"station.token_file: cannot read {config['station.token_file']}: "
                              f"{exc.strerror}") from None
    return ""


def run_station(config: Config) -> int:
    """A second desk: the Lockers tab of the hub at station.hub_url, through its API (no database, no broker)."""
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
    if not config["station.hub_url"] or not token:
        print("kiosk: a station needs the hub's address and its own token: kiosk --station --hub "
              "http://HUB:8080 with the token (from `kiosk device add --kind station` on the hub) in "
              "KIOSK_STATION_TOKEN or station.token_file", file=sys.stderr)
        return EXIT_CONFIG
    try:
        client = ApiClient(config["station.hub_url"], token)
    except ValueError as exc:
        print(f"kiosk: station.hub_url: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Front Desk Kiosk station")
    theme.apply(app)
    window = StationWindow(client.base_url, RemoteLockers(client), RemoteOperators(client),
                           config["admin.idle_lock_s"], energy_ops=RemoteEnergy(client),
                           stall_ops=RemoteStalls(client), tiles_of=tiles_of)
    stream = EventStream(client.websocket_target, window.events.event.emit, window.events.state.emit)
    stream.start()
    window.show()
    _quit_on_signals(app)
    app.aboutToQuit.connect(stream.stop)
    app.aboutToQuit.connect(client.close)
    log.info("station following the hub at %s", client.base_url)
    return app.exec()


class ServicesStarter:
    """Starts the hub on a thread after the first paint and stops it when the window closes."""

    def __init__(self, config: Config, bridge: Any) -> None:
        self._config = config
        self._bridge = bridge
        self._hub: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._start, name="hub-starter", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        from kiosk.services.hub import Hub

        try:
            self._hub = Hub(self._config, self._bridge, host="window")
            self._hub.start()
        except Exception as exc:
            log.exception("the hub could not start")
            self._bridge.servicesFailed.emit(str(exc))
            return
        self._bridge.servicesReady.emit()

    def stall_services(self, gate: Any) -> tuple[Any, Any] | None:
        """What the Stalls tab may ask of the hub, acting as the admin `gate` lets in; None until the hub runs."""
        from kiosk.local.stalls import StallOperations

        if self._hub is None:
            return None
        return StallOperations(self._hub, gate.who), gate

    def locker_services(self, gate: Any) -> tuple[Any, Any] | None:
        """What the Lockers tab may ask of the hub (admin actions through `gate`); None until the hub runs."""
        from kiosk.local.lockers import LockerOperations

        if self._hub is None:
            return None
        return LockerOperations.for_hub(self._hub, gate.who), gate

    def energy_services(self, gate: Any = None) -> Any:
        """What the Energy tab may ask of the hub; None until the hub runs."""
        from kiosk.local.energy import EnergyOperations

        if self._hub is None:
            return None
        return EnergyOperations.for_hub(self._hub, gate.who if gate is not None else lambda: None)

    def admin_services(self, who: Any) -> Any:
        """What the Admin tab may ask of the hub, acting as `who()` (the signed-in operator); None until the hub
        runs."""
        from kiosk.local.admin import AdminOperations

        return None if self._hub is None else AdminOperations(self._hub, who)

    def start_demo(self) -> None:
        if self._hub is not None:
            self._hub.start_demo()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(10)
        if self._hub is not None:
            self._hub.stop()
            self._hub = None


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

    def stop(*_args: Any) -> None:
        if before is not None:
            before()
        app.quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
