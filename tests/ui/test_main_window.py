"""The window with a real hub behind it: empty state, live rows from a real paho device, status bar."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from kiosk.ui.bridge import Bridge
from kiosk.ui.main_window import MainWindow
from tests.helpers import connect
from tests.ui.conftest import AttachedHub


@pytest.fixture
def window(qtbot: Any, config: Any) -> Iterator[tuple[MainWindow, Bridge, AttachedHub]]:
    bridge = Bridge()
    main = MainWindow(bridge, database=config.database_label)
    qtbot.addWidget(main)
    main.show()
    starter = AttachedHub(config, main)
    failures: list[str] = []
    ready: list[bool] = []
    bridge.servicesFailed.connect(failures.append)
    bridge.servicesReady.connect(lambda: ready.append(True))
    starter.start()
    qtbot.waitUntil(lambda: bool(ready or failures), timeout=15000)
    assert not failures, f"services failed to start: {failures}"
    yield main, bridge, starter
    starter.stop()


def test_empty_database_shows_what_to_do_next(window: Any) -> None:
    main, _bridge, _starter = window
    assert main.devices.showing_empty_state
    assert main.devices.demo_button.isEnabled()


def test_a_publishing_device_appears_in_the_view(qtbot: Any, window: Any) -> None:
    main, bridge, starter = window
    hub = starter._hub
    info, token = hub.registry.create("Stall W-2", "stall", "test")
    hub.device_added(info)
    qtbot.waitUntil(lambda: main.devices_model.rowCount() == 1)
    assert not main.devices.showing_empty_state
    device = connect(hub.config["broker.port"], info.id, token)
    with qtbot.waitSignal(bridge.devicesChanged, timeout=2000,
                          check_params_cb=lambda snaps: any(s.received == 1 for s in snaps)):
        device.publish(f"devices/{info.id}/datastream", json.dumps({"occupied": True}))
    assert main.devices_model.data(main.devices_model.index(0, 2)) == "● Online"
    device.close()


def test_status_bar_shows_broker_clients_and_database(qtbot: Any, window: Any) -> None:
    main, bridge, _starter = window
    with qtbot.waitSignal(bridge.statusChanged, timeout=3000):
        pass
    assert main.status.broker.text().startswith("Broker: up · ") and main.status.broker.text().endswith(" MB")
    assert "msg/s in" in main.status.rate.text()
    assert main.status.clients.text() == "Clients: 1"
    assert "kiosk.db" in main.status.database.text()


def test_demo_devices_log_in_with_real_tokens(qtbot: Any, window: Any) -> None:
    main, _bridge, starter = window
    qtbot.mouseClick(main.devices.demo_button, Qt.MouseButton.LeftButton)
    # 4 stall sensors, 2 MQTT meters, an ESP32, an HTTP meter, and the virtual USB board's own device.
    qtbot.waitUntil(lambda: main.devices_model.rowCount() == 9, timeout=10000)
    qtbot.waitUntil(lambda: main.devices_model.state_counts()["online"] == 9, timeout=10000)
    assert starter._hub.broker.stats().refused_logins == {}


def test_a_hub_that_cannot_start_is_shown_without_blocking_the_window(qtbot: Any, config: Any) -> None:
    """The window starts the real hub process (kiosk --headless); its broker port is taken, so it exits, and the
    window says why in words taken from the hub's own log."""
    import socket

    from kiosk.app import HubStarter
    from kiosk.ui.hub_link import HubLink

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", config["broker.port"]))
        taken.listen()
        bridge = Bridge()
        main = MainWindow(bridge, database=config.database_label)
        qtbot.addWidget(main)
        main.show()
        link = HubLink(bridge, main)
        arguments = ["--data-dir", str(config.data_dir), "--config-dir", str(config.config_dir),
                     "--broker-port", str(config["broker.port"]), "--http-port", str(config["http.port"])]
        starter = HubStarter(config, arguments, link.found.emit, bridge.servicesFailed.emit)
        with qtbot.waitSignal(bridge.servicesFailed, timeout=30000) as failed:
            starter.start()
        qtbot.waitUntil(lambda: main.failure_box is not None and main.failure_box.isVisible())
        assert "the hub stopped at once" in failed.args[0]
        assert f"broker port {config['broker.port']} is taken by " in failed.args[0]  # and by whom
        assert "hub.log" in failed.args[0]
        assert "Services failed to start" in main.status.broker.text()
        main.failure_box.close()
        starter.finish()


def test_the_window_imports_no_database_or_network_library_before_its_first_paint() -> None:
    """SQLAlchemy, paho, aiohttp and amqtt load on the hub-starter thread after the first paint (start-up < 0.5 s):
    a tab that imports them at module level undoes that."""
    import subprocess
    import sys

    code = ("import sys; import kiosk.app, kiosk.ui.main_window, kiosk.ui.hub_link, kiosk.client.local_hub; "
            "print(sorted(m for m in ('sqlalchemy', 'paho', 'aiohttp', 'amqtt', 'pyqtgraph', 'cryptography', 'segno',"
            " 'kiosk.ui.admin.admin_devices', 'kiosk.ui.admin.admin_firmware', 'kiosk.ui.admin.admin_health')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def guarded(main: MainWindow, tmp_path: Any) -> Any:
    from PySide6.QtCore import QSettings

    from kiosk.ui.close_guard import CloseGuard

    guard = CloseGuard(main, QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat))
    main.close_guard = guard
    return guard


def answer(qtbot: Any, guard: Any, button_text: str, remember: bool) -> None:
    qtbot.waitUntil(lambda: guard.box is not None and guard.box.isVisible(), timeout=3000)
    assert "stop the hub" in guard.box.text()
    guard.remember.setChecked(remember)
    [button] = [b for b in guard.box.buttons() if b.text().replace("&", "") == button_text]
    button.click()


def test_closing_the_window_asks_and_keeps_collecting_in_the_background(qtbot: Any, window: Any,
                                                                       tmp_path: Any) -> None:
    """Without a system tray (as here, offscreen) "keep collecting" closes the window: the hub is its own process
    and goes on; the remembered choice closes the next window without a question."""
    main, _bridge, starter = window
    guard = guarded(main, tmp_path)
    guard.hosting = True  # as when this window started the hub
    kept: list[bool] = []
    stopped: list[bool] = []
    closed: list[bool] = []
    guard.keptInBackground.connect(lambda: kept.append(True))
    guard.stopRequested.connect(lambda: stopped.append(True))
    main.closed.connect(lambda: closed.append(True))
    main.close()  # the window's X, Alt+F4
    assert main.isVisible()  # nothing happens before the answer
    answer(qtbot, guard, "Keep collecting", remember=True)
    assert kept == [True] and stopped == [] and closed == [True] and not main.isVisible()
    assert starter._hub.link.connected.is_set()  # still collecting
    assert "on_close=background" in (tmp_path / "window.ini").read_text()
    again = MainWindow(main.bridge, database="x")
    qtbot.addWidget(again)
    again.show()
    second = guarded(again, tmp_path)
    second.hosting = True
    second.keptInBackground.connect(lambda: kept.append(True))
    again.close()  # remembered: closed without a question
    assert not again.isVisible() and second.box is None and kept == [True, True]


def test_a_window_attached_to_a_hub_it_did_not_start_closes_without_asking(qtbot: Any, window: Any,
                                                                         tmp_path: Any) -> None:
    main, _bridge, starter = window
    guard = guarded(main, tmp_path)
    guard.hosting = False
    main.close()
    assert not main.isVisible() and guard.box is None
    assert starter._hub.link.connected.is_set()


def test_stop_the_hub_closes_the_window_and_is_remembered_only_when_asked(qtbot: Any, window: Any,
                                                                        tmp_path: Any) -> None:
    main, _bridge, _starter = window
    guard = guarded(main, tmp_path)
    closed: list[bool] = []
    main.closed.connect(lambda: closed.append(True))
    main.close()
    answer(qtbot, guard, "Stop the hub", remember=False)
    assert guard.allow_close
    main.close()  # the application quits on stopRequested; here the test closes it
    assert closed == [True] and not main.isVisible()
    assert "on_close" not in ((tmp_path / "window.ini").read_text() if (tmp_path / "window.ini").exists() else "")


def test_a_stopped_hub_is_said_and_started_again_from_the_banner(qtbot: Any, config: Any) -> None:
    """The window starts the real hub process; `kiosk stop` (here: the same SIGTERM) stops it; the banner says so
    and offers to start it; pressing the button starts a new hub and the window reattaches by itself."""
    from kiosk.app import HubStarter, connect_window
    from kiosk.client.local_hub import lock_info, stop_hub
    from kiosk.ui.hub_link import HubLink

    bridge = Bridge()
    main = MainWindow(bridge, database=config.database_label)
    qtbot.addWidget(main)
    main.show()
    link = HubLink(bridge, main)
    main.follow(link)
    connect_window(main, link)
    arguments = ["--data-dir", str(config.data_dir), "--config-dir", str(config.config_dir),
                 "--broker-port", str(config["broker.port"]), "--http-port", str(config["http.port"])]
    starter = HubStarter(config, arguments, link.found.emit, bridge.servicesFailed.emit, link.foundHub.emit)
    main.hub_starter = starter
    try:
        with qtbot.waitSignal(bridge.servicesReady, timeout=60000):
            starter.start()
        first = lock_info(config.data_dir)["pid"]
        assert stop_hub(config.data_dir, first)
        qtbot.waitUntil(lambda: main.banner.isVisible(), timeout=10000)
        assert "No connection to the hub" in main.banner.text()
        assert main.status.broker.text() == "Hub: not reachable", "the last status is not shown as current"
        assert main.banner.button.isVisible() and main.banner.button.isEnabled()
        main.banner.button.click()
        assert not main.banner.button.isEnabled()
        qtbot.waitUntil(lambda: not main.banner.isVisible(), timeout=60000)
        second = lock_info(config.data_dir)["pid"]
        assert second != first
        assert main.status.database.text()
    finally:
        link.stop()
        info = lock_info(config.data_dir)
        if info is not None:
            stop_hub(config.data_dir, info["pid"])
        starter.finish()


def test_the_other_tabs_are_built_just_after_the_first_paint(qtbot: Any) -> None:
    """The desk window paints its Stalls tab first (bench/startup.py); the other tabs' titles are there at once and
    their views arrive with the first paint, in place, wired to the bridge."""
    from kiosk.ui.lockers.lockers_view import LockersView

    bridge = Bridge()
    main = MainWindow(bridge, database="test.db", later_tabs=True)
    qtbot.addWidget(main)
    assert [main.tabs.tabText(i) for i in range(main.tabs.count())] == ["Stalls", "Lockers", "Energy", "Admin"]
    assert not main.completed and not hasattr(main, "lockers")
    built_when_told: list[bool] = []
    main.firstPainted.connect(lambda: built_when_told.append(main.completed))
    with qtbot.waitSignal(main.firstPainted, timeout=5000):
        main.show()
    assert built_when_told == [False], "the paint is announced (and start-up timed) before the other tabs are built"
    assert main.completed
    assert [main.tabs.tabText(i) for i in range(main.tabs.count())] == ["Stalls", "Lockers", "Energy", "Admin"]
    assert isinstance(main.lockers, LockersView) and main.tabs.widget(1) is main.lockers
    assert main.tabs.widget(2) is main.energy and main.tabs.widget(3) is main.admin
    assert main.tabs.currentWidget() is main.stalls
    main.tabs.setCurrentWidget(main.lockers)
    assert main.tabs.currentIndex() == 1
    main.complete()  # once only
    assert main.tabs.widget(1) is main.lockers


def test_a_card_swiped_on_the_stalls_tab_is_answered_at_the_locker_desk(qtbot: Any, window: Any) -> None:
    """Before, a reader's Enter on the Stalls tab opened the focused stall's detail and the swipe was lost."""
    from PySide6.QtTest import QTest

    from kiosk.core.operators import Operator, Role

    main, _bridge, starter = window
    starter._hub.lockers.add_member("CS2021001", "Rahul Sharma", "B.Tech", Operator("test", Role.STAFF))
    main.activateWindow()
    main.tabs.setCurrentWidget(main.stalls)
    main.stalls.setFocus()
    qtbot.waitUntil(lambda: main.lockers.desk.ops is not None)
    clock = [100.0]
    main.reader._clock = lambda: clock[0]
    opened: list[int] = []
    main.stalls.stallClicked.connect(opened.append)
    target = main.stalls
    for char in "CS2021001":
        clock[0] += 0.008
        QTest.keyClick(main.focusWidget() or target, char)
    clock[0] += 0.008
    QTest.keyClick(main.focusWidget() or target, Qt.Key.Key_Return)
    assert main.tabs.currentWidget() is main.lockers and main.lockers.pages.currentWidget() is main.lockers.desk
    qtbot.waitUntil(lambda: main.lockers.desk.result_title.text() == "Locker assigned")
    assert opened == []


def test_a_card_read_from_its_own_input_device_is_answered_at_the_desk(qtbot: Any, config: Any, tmp_path: Any) -> None:
    """desk.reader_device: a reader read as its own device reaches the desk from any tab, and its state (missing,
    unplugged) shows in the status bar until it reads."""
    import os

    from kiosk.core.operators import Operator, Role
    from tests.ui.test_reader_device import card_events

    path = tmp_path / "reader"
    bridge = Bridge()
    main = MainWindow(bridge, database=config.database_label, reader=(50.0, 4, str(path)))
    qtbot.addWidget(main)
    main.show()
    label = main.status.findChild(QLabel, "readerState")
    qtbot.waitUntil(lambda: "not plugged in" in label.text() and label.isVisible(), timeout=5000)
    starter = AttachedHub(config, main)
    ready: list[bool] = []
    bridge.servicesReady.connect(lambda: ready.append(True))
    starter.start()
    writer = None
    try:
        qtbot.waitUntil(lambda: bool(ready), timeout=15000)
        starter._hub.lockers.add_member("CS2021001", "Rahul Sharma", "B.Tech", Operator("test", Role.STAFF))
        qtbot.waitUntil(lambda: main.lockers.desk.ops is not None)
        main.tabs.setCurrentWidget(main.energy)
        os.mkfifo(path)
        writer = os.open(path, os.O_RDWR)
        qtbot.waitUntil(lambda: not label.isVisible(), timeout=5000)
        os.write(writer, card_events("CS2021001"))
        qtbot.waitUntil(lambda: main.lockers.desk.result_title.text() == "Locker assigned", timeout=5000)
        assert main.tabs.currentWidget() is main.lockers and main.lockers.pages.currentWidget() is main.lockers.desk
    finally:
        if writer is not None:
            os.close(writer)
        main.reader_device.stop()
        starter.stop()
