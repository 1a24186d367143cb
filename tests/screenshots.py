"""Render the real window to PNG for docs/: `make screenshots` (python -m tests.screenshots docs/screenshots).

It runs a real hub in a temporary data folder on free ports with the demo devices, so the pictures show what a user
sees a few seconds after pressing "Start demo devices" — no made-up numbers.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from kiosk.config import load  # noqa: E402
from kiosk.ui import theme  # noqa: E402
from kiosk.ui.bridge import Bridge  # noqa: E402
from kiosk.ui.main_window import MainWindow  # noqa: E402
from tests.ui.conftest import AttachedHub  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pump(app: QApplication, seconds: float) -> None:
    """Let the window live for `seconds` (timers fire, the demo devices report): events handled as they come."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, max(1, int(left * 1000)))


SIZES = ((1920, 1080), (1366, 768))  # a desk monitor and a laptop panel: every window page is shot at both


def save(widget: QWidget, path: Path) -> None:
    """A dialog as it is; a window (the desk, a station) at each of SIZES: `name.png` at 1920x1080 and
    `name-1366x768.png`, then back to the size it had."""
    from PySide6.QtWidgets import QMainWindow

    if not isinstance(widget, QMainWindow) or folder_only(path):
        widget.grab().save(str(path))
        print(f"wrote {path}")
        return
    app = QApplication.instance()
    before = widget.size()
    for width, height in SIZES:
        widget.resize(width, height)
        pump(app, 0.35)  # layouts settle, graphs redraw at the new size
        target = path if (width, height) == SIZES[0] else path.with_name(f"{path.stem}-{width}x{height}.png")
        widget.grab().save(str(target))
        print(f"wrote {target}")
    widget.resize(before)
    pump(app, 0.1)


def folder_only(path: Path) -> bool:
    """Pictures taken only to look at while testing (not for docs/) are not shot twice."""
    return "screenshots" not in path.parts


def main(out: str) -> int:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    with tempfile.TemporaryDirectory() as tmp:
        config = load({"data_dir": tmp, "broker.port": free_port(), "http.port": free_port(),
                       "broker.bind": "127.0.0.1", "http.bind": "127.0.0.1"}, env={}, config_dir=tmp)
        bridge = Bridge()
        window = MainWindow(bridge, database=config.database_label)
        window.resize(*SIZES[1])
        window.show()
        starter = AttachedHub(config, window)
        ready: list[bool] = []
        bridge.servicesReady.connect(lambda: ready.append(True))
        starter.start()
        try:
            while not ready:  # servicesReady comes through the event loop
                app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
            pump(app, 1.2)
            window.tabs.setCurrentWidget(window.stalls)
            pump(app, 0.2)
            save(window, folder / "stalls-empty.png")
            first_admin(app, window, folder)
            pump(app, 0.2)
            save(window, folder / "admin-devices-empty.png")
            starter._hub.demonstration.start()
            pump(app, 4.0)
            window.tabs.setCurrentWidget(window.stalls)
            pump(app, 0.3)
            save(window, folder / "stalls.png")
            view = window.stalls
            for name, opener in (("stall-detail", lambda: view.open_detail(min(view.places))),
                                 ("stalls-edit", view.open_editor), ("stalls-figures", view.open_analytics)):
                opener()
                pump(app, 0.5)
                if view.dialog is not None:
                    save(view.dialog, folder / f"{name}.png")
                    view.dialog.close()
                    pump(app, 0.1)
            lockers(app, window, starter, folder)
            energy(app, window, starter, folder)
            admin(app, window, starter, folder)
            station_window, stream = station(app, config, starter, folder)
            display, feed = wall_display(config, starter, Path(tmp))
            pump(app, 2.5)
            feed.check()
            pump(app, 0.3)
            save(display, folder / "display.png")
        except BaseException:
            starter.stop()  # the hub's threads and the demo devices must not outlive a failed run
            raise
        starter._hub.stop()  # the hub goes; the window's link stays to say so
        starter._hub = None
        for _ in range(20):  # the hub is gone: the display must say so
            feed.check()
            pump(app, 0.2)
        save(display, folder / "display-hub-unreachable.png")
        feed.stop()
        for _ in range(20):
            if not station_window.connected:
                break
            pump(app, 0.1)
        pump(app, 0.2)
        save(station_window, folder / "station-hub-unreachable.png")
        stream.stop()
        for _ in range(20):
            if window.banner.isVisible():
                break
            pump(app, 0.1)
        window.tabs.setCurrentWidget(window.lockers)
        pump(app, 0.2)
        save(window, folder / "desk-hub-unreachable.png")
        starter.stop()
    return 0


def demo_locker_history(desk: Any, days: int = 30) -> None:
    """Three weeks of a small desk, made through the real operations with the clock set back (the demo roster)."""
    import random

    from kiosk.core.lockers import DEMO_ROSTER
    from kiosk.store.lockers import LockerDesk, Operator, Role

    rng = random.Random(7)
    from datetime import datetime

    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    clock = [midnight - days * 86400]
    past = LockerDesk(desk._engine, desk.policy, desk.due, lambda: clock[0], desk.count)
    staff, admin = Operator("front desk", Role.STAFF), Operator("admin (PIN)", Role.ADMIN)
    start = clock[0]
    for day in range(days - 1):
        for enrollment, _, _ in rng.sample(DEMO_ROSTER, rng.randint(3, 8)):
            clock[0] = start + day * 86400 + rng.triangular(9, 19, 12) * 3600
            locker = past.assign(enrollment, staff).locker
            clock[0] += rng.uniform(0.3, 5) * 3600
            if rng.random() < 0.05:
                past.force_exit(locker, "key not returned", admin)
            else:
                past.exit(enrollment, staff)


def lockers(app: QApplication, window: Any, starter: AttachedHub, folder: Path) -> None:
    """The Lockers tab with the demo roster: a few lockers in use, one overdue, one out of order."""
    from kiosk.store.lockers import LockerDesk, Operator, Role

    desk = starter._hub.lockers
    demo_locker_history(desk)
    staff, admin = Operator("front desk", Role.STAFF), Operator("admin (PIN)", Role.ADMIN)
    earlier = LockerDesk(desk._engine, desk.policy, desk.due, lambda: time.time() - 5 * 3600, desk.count)
    earlier.assign("ME2021003", staff)  # five hours ago: overdue now
    for enrollment in ("CS2021001", "CS2021002", "EC2021001", "ME2021001", "CS2021003"):
        desk.assign(enrollment, staff)
    desk.set_out_of_order(9, True, "broken hinge", admin)
    window.tabs.setCurrentWidget(window.lockers)
    view = window.lockers
    view.ops.invalidate()  # changed on the store, not through the API: read the board again
    view.refresh()
    view.desk.scan.setText("EC2021002")
    view.desk.scan_entered()
    pump(app, 0.3)
    save(window, folder / "lockers.png")
    for page, name, settle in ((view.assigned, "assigned", 0.3), (view.history, "history", 1.0),
                                (view.figures, "figures", 1.5)):
        view.pages.setCurrentWidget(page)
        pump(app, settle)  # history and figures are read on a background thread
        save(window, folder / f"lockers-{name}.png")
    view.pages.setCurrentWidget(view.members)
    view.members.open_import("enrollment,name,programme\nCS2022001,Neha Rao,CS\ncs2021001,Rahul Sharma,CS\n"
                             "CS20X,Bad Number,CS\nEC2022004,,EC\nCS2022001,Neha Rao,CS\n", "roster.csv")
    pump(app, 0.5)
    save(view.members.dialog, folder / "lockers-import.png")
    view.members.dialog.close()
    view.pages.setCurrentWidget(view.desk)
    pump(app, 0.2)


def station(app: QApplication, config: Any, starter: AttachedHub, folder: Path) -> tuple[Any, Any]:
    """A second desk (kiosk --station) following this hub through its API, at a laptop's 1366x768."""
    from kiosk.client.energy import RemoteEnergy
    from kiosk.client.events import EventStream
    from kiosk.client.http import ApiClient
    from kiosk.client.lockers import RemoteLockers
    from kiosk.client.session import RemoteOperators
    from kiosk.client.stalls import RemoteStalls, tiles_of
    from kiosk.ui.station_window import StationWindow

    _, token = starter._hub.registry.create("Desk 2", "station", "screenshots")
    client = ApiClient(f"http://127.0.0.1:{config['http.port']}", token)
    window = StationWindow(client.base_url, RemoteLockers(client), RemoteOperators(client),
                           energy_ops=RemoteEnergy(client), stall_ops=RemoteStalls(client), tiles_of=tiles_of)
    window.resize(1366, 768)
    stream = EventStream(client.websocket_target, window.events.event.emit, window.events.state.emit)
    stream.start()
    window.show()
    for _ in range(100):
        if window.refreshes:
            break
        pump(app, 0.05)
    pump(app, 0.5)
    save(window, folder / "station-stalls.png")
    window.tabs.setCurrentWidget(window.lockers)
    window.lockers.desk.scan.setText("CS2021004")
    window.lockers.desk.scan_entered()
    pump(app, 0.3)
    save(window, folder / "station.png")
    return window, stream


def demo_energy_history(hub: Any, days: int = 7) -> str:
    """A week of a reading room's lamps, one reading a minute through the real energy pipeline (raw rows, rollups,
    detector): on 08:00-21:00 at about 120 W, standby (about 4 W) at night. Returns the port id."""
    import random
    from datetime import datetime

    from kiosk.protocol.payloads import EnergyReading

    rng = random.Random(3)
    info, _ = hub.registry.create("Reading room meter", "energy", "screenshots")
    port = hub.energy_store.add_port(info.id, "Reading room lamps", "screenshots", channel="1",
                                     schedule="mon-sun 08:00-21:00")
    start = time.time() - days * 86400
    for minute in range(days * 1440):
        at = start + minute * 60
        hour = datetime.fromtimestamp(at).hour
        power = rng.gauss(120, 6) if 8 <= hour < 21 else max(0.0, rng.gauss(4.0, 0.3))
        voltage = rng.uniform(225, 235)
        hub.energy.reading(info.id, EnergyReading("1", voltage, power / voltage, power), at)
    hub.writer.flush()
    return port.id


def energy(app: QApplication, window: Any, starter: AttachedHub, folder: Path) -> None:
    """The Energy tab: a week of the reading room's lamps and a live demo port."""
    port_id = demo_energy_history(starter._hub)
    view = window.energy
    window.tabs.setCurrentWidget(view)
    view.ops._read_at = 0.0
    view.tick()
    live = next((r["id"] for r in view.model.rows if r["id"] != port_id), None)
    view.select_ports([port_id] + ([live] if live else []))
    view.show_range(7 * 86400)
    pump(app, 1.5)
    save(window, folder / "energy.png")


def first_admin(app: QApplication, window: Any, folder: Path) -> None:
    """First start: the Admin tab asks for the first admin account."""
    window.tabs.setCurrentWidget(window.admin)
    pump(app, 0.3)
    page = window.admin.sign_in
    page.name.setText("Asha")
    save(window, folder / "admin-signin.png")
    page.password.setText("reading room 2026")
    page.again.setText("reading room 2026")
    page.submit.click()
    while window.admin_session.operator is None:
        pump(app, 0.05)


def admin(app: QApplication, window: Any, starter: AttachedHub, folder: Path) -> None:
    """The Admin tab's pages with real work behind them: an ESP32 (simulated, as in the OTA tests) gets a restart and
    a signed firmware update; a stall sensor that went quiet raises a notice; a token is issued."""
    from kiosk.core.operators import Role
    from kiosk.services.esp32_sim import SimulatedEsp32
    from kiosk.services.mqtt_client import close_client, new_client

    hub = starter._hub
    view = window.admin
    ops = view.ops
    window.tabs.setCurrentWidget(view)
    quiet = ops.create_device("Stall E-4 (unplugged)", "stall", None)
    esp = ops.create_device("ESP32 reading room", "esp32", None)
    device = SimulatedEsp32("127.0.0.1", hub.config["broker.port"], esp.info.id, esp.token, ops.public_key(),
                            firmware="1.2.0", mac="A4:CF:12:6B:3E:90")
    device.start()
    client = new_client("screenshot-stall", quiet.info.id, quiet.token)
    client.connect("127.0.0.1", hub.config["broker.port"])
    client.loop_start()
    for _ in range(3):  # reports 1.2 s apart, then silence: offline after missing about three of them
        client.publish(f"devices/{quiet.info.id}/datastream", '{"door": "open"}', qos=1)
        pump(app, 1.2)
    close_client(client)
    device.log("info", "boot: stall firmware 1.2.0, reset reason power-on")
    device.log("warn", "wifi: RSSI -71 dBm, reconnecting")
    pump(app, 1.0)
    view.pages.setCurrentWidget(view.devices)
    view.devices.select(esp.info.id)
    pump(app, 2.5)
    save(window, folder / "admin-devices.png")
    dialog = view.devices.open_add()
    dialog.name.setText("Stall W-5")
    dialog.accept()
    pump(app, 0.3)
    save(view.devices.dialog, folder / "admin-token.png")
    view.devices.dialog.accept()
    ops.send_command([esp.info.id], "restart", {"delay_s": 1}, 600)
    ops.send_command([quiet.info.id], "identify", {"blink": 3}, 600)
    ops.broadcast("default", "sync_clock", {}, 60)
    pump(app, 2.0)
    view.pages.setCurrentWidget(view.commands)
    pump(app, 2.5)
    save(window, folder / "admin-commands.png")
    image = bytes([0xE9]) + bytes(range(256)) * 3000
    ops.upload_firmware("esp32", "1.3.0", "stall-sensor-1.3.0.bin", image)
    ops.upload_firmware("esp32", "1.2.0", "stall-sensor-1.2.0.bin", image[:-10])
    pump(app, 0.3)
    images = ops.firmware_images()
    newest = next(i for i in images if i.version == "1.3.0")
    ops.start_update(newest.id, [esp.info.id])
    pump(app, 3.0)
    view.pages.setCurrentWidget(view.firmware)
    pump(app, 2.5)
    view.firmware.images.selectRow(0)
    save(window, folder / "admin-firmware.png")
    deadline = time.monotonic() + 15
    while not [n for n in hub.energy_store.notifications() if n.kind == "device_offline"]:
        pump(app, 0.3)
        if time.monotonic() > deadline:
            break
    view.pages.setCurrentWidget(view.notifications)
    pump(app, 0.8)
    save(window, folder / "admin-notifications.png")
    view.pages.setCurrentWidget(view.health)
    pump(app, 1.5)
    save(window, folder / "admin-health.png")
    view.pages.setCurrentWidget(view.settings)
    pump(app, 0.3)
    save(window, folder / "admin-settings.png")
    ops.add_operator("desk", Role.STAFF, "reading room 7b")
    view.pages.setCurrentWidget(view.operators)
    pump(app, 0.5)
    save(window, folder / "admin-operators.png")
    view.pages.setCurrentWidget(view.audit)
    pump(app, 0.8)
    save(window, folder / "admin-audit.png")
    device.stop()


def wall_display(config: Any, starter: AttachedHub, tmp: Path) -> tuple[QWidget, Any]:
    """The wall display at 1920 x 1080, following the same hub over MQTT as a real display does (with the free-locker
    count, display.show_lockers)."""
    from kiosk.services.broker.gatekeeper import internal_credentials
    from kiosk.services.display_feed import DisplayFeed
    from kiosk.services.mqtt_client import BrokerAddress
    from kiosk.ui.display.display_window import DisplayBridge, DisplayWindow
    from kiosk.ui.widgets.pin_dialog import AdminPin

    bridge = DisplayBridge()
    display = DisplayWindow(bridge, AdminPin(tmp), tmp / "display.ini", dim_from="00:00", dim_to="00:00",
                            show_lockers=True)
    display.resize(1920, 1080)
    display.show()
    account = internal_credentials(config.data_dir)
    feed = DisplayFeed(BrokerAddress("127.0.0.1", config["broker.port"]), account.username, account.password,
                       bridge, lockers=True)
    feed.start()
    return display, feed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
