"""The wall display, offscreen, following a real hub over its broker."""

import time
from datetime import datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from kiosk.config import Config
from kiosk.core.stalls import SensorRole, StallState
from kiosk.services.display_feed import DisplayFeed
from kiosk.services.hub import Hub
from kiosk.services.mqtt_client import BrokerAddress
from kiosk.store.devices import legacy_device_id
from kiosk.ui.display.display_window import DisplayBridge, DisplayWindow, is_night
from kiosk.ui.widgets.pin_dialog import AdminPin
from tests.helpers import RecordingEvents, connect


@pytest.mark.parametrize(("now", "night"), [("23:00", True), ("02:00", True), ("06:00", False), ("12:00", False),
                                            ("22:00", True), ("21:59", False)])
def test_night_dimming_crosses_midnight(now: str, night: bool) -> None:
    hours, minutes = map(int, now.split(":"))
    assert is_night(day_time(hours, minutes), day_time(22), day_time(6)) is night
    assert not is_night(day_time(hours, minutes), day_time(7), day_time(7))  # equal times: never dim


NOON = datetime(2026, 11, 22, 12, 0).timestamp()


def window(qtbot: Any, tmp_path: Path, **kwargs: Any) -> tuple[DisplayBridge, DisplayWindow]:
    """A display whose clock says noon unless the test passes its own: nothing here depends on the hour it runs."""
    bridge = DisplayBridge()
    kwargs.setdefault("clock", lambda: NOON)
    display = DisplayWindow(bridge, AdminPin(tmp_path), tmp_path / "display.ini", **kwargs)
    qtbot.addWidget(display)
    display.resize(1280, 720)
    return bridge, display


def test_the_display_dims_at_night_and_the_cursor_is_hidden(qtbot: Any, tmp_path: Path) -> None:
    from kiosk.protocol.state import StallStateMessage
    from kiosk.ui.widgets.stall_tile import contrast_ratio

    moment = [NOON]
    bridge, display = window(qtbot, tmp_path, dim_from="22:00", dim_to="06:00", dim_brightness=40,
                             clock=lambda: moment[0])
    for n, state in enumerate(("vacant", "occupied", "no_signal", "attention")):
        bridge.stall_state(n, StallStateMessage(n, "West", "", str(n), n, 0, state, "door open", 0.0, 0.0))
    qtbot.waitUntil(lambda: len(display.tiles) == 4)
    day = {n: tile.style_for() for n, tile in display.tiles.items()}
    assert display.brightness == 1.0
    moment[0] = datetime(2026, 11, 22, 23, 30).timestamp()  # the window's own one-second timer reads it too
    display.tick()
    assert display.brightness == 0.4
    for n, tile in display.tiles.items():
        night = tile.style_for()
        assert night.background != day[n].background  # darker...
        assert contrast_ratio(night.text, night.background) >= 4.5, (night, day[n])  # ...and still readable
    window_style = display.text_style()
    assert contrast_ratio(window_style.text, window_style.background) >= 4.5
    assert display.clock.palette().color(display.clock.foregroundRole()).name() == window_style.text
    moment[0] = datetime(2026, 11, 22, 9, 0).timestamp()
    display.tick()
    assert display.brightness == 1.0 and {n: t.style_for() for n, t in display.tiles.items()} == day
    assert display.cursor().shape().name == "BlankCursor"


@pytest.mark.parametrize("brightness", [0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0])
def test_every_tile_keeps_aa_contrast_at_every_dimming(brightness: float) -> None:
    from kiosk.ui.widgets.stall_tile import STYLES, UNKNOWN, contrast_ratio, dimmed

    for style in (*STYLES.values(), UNKNOWN):
        night = dimmed(style, brightness)
        assert contrast_ratio(night.text, night.background) >= 4.5, (style, brightness, night)


def test_the_display_follows_the_hub_and_says_when_it_cannot(qtbot: Any, tmp_path: Path, config: Config) -> None:
    hub = Hub(config.with_overrides(stalls__legacy_stallsense=True), RecordingEvents())
    hub.start()
    try:
        room = hub.stall_directory.add_restroom("West", "G", "admin")
        stall = hub.stall_directory.add_stall(room, "1", "admin")
        board = connect(config["broker.port"], None, None, client_id="Stall1")
        board.client.publish("Stall1", "0", qos=1)
        qtbot.waitUntil(lambda: hub.registry.get(legacy_device_id("Stall1")) is not None)
        hub.stall_directory.assign(legacy_device_id("Stall1"), stall, SensorRole.DOOR, "admin")
        hub.stalls_edited()
        board.client.publish("Stall1", "0", qos=1)
        bridge, display = window(qtbot, tmp_path)
        feed = DisplayFeed(BrokerAddress("127.0.0.1", config["broker.port"]), hub.internal.username,
                           hub.internal.password, bridge)
        feed.start()
        try:
            qtbot.waitUntil(lambda: feed.check()[0] and stall in display.tiles
                            and display.tiles[stall].state is StallState.VACANT, timeout=5000)
            assert not display.banner.isVisibleTo(display) and not display.tiles[stall].stale
            assert display._sections["West"][1].text() == "West  ·  floor G   —   1 of 1 free"
            board.client.publish("Stall1", "1", qos=1)  # within the debounce time: shown once it held 2 s
            qtbot.waitUntil(lambda: display.tiles[stall].state is StallState.OCCUPIED, timeout=5000)
            board.close()
            hub.stop()  # the hub goes away: the display must say so, not keep showing "IN USE" as current
            qtbot.waitUntil(lambda: not feed.check()[0], timeout=5000)
            assert display.banner.isVisibleTo(display) and "NO CONNECTION TO THE HUB" in display.banner.text()
            tile = display.tiles[stall]  # the last known word, greyed, with its age: not a sensor's NO SIGNAL
            assert tile.stale and tile.style_for().word == "IN USE" and tile.style_for().background == "#2b3238"
            assert tile.detail_line(time.time()).startswith("last known, ")
            assert display._sections["West"][1].text().endswith("state unknown")  # no stale "1 of 1 free"
        finally:
            feed.stop()
    finally:
        hub.stop()


def test_leaving_full_screen_needs_the_admin_pin(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from kiosk.ui.widgets.pin_dialog import PinDialog

    _bridge, display = window(qtbot, tmp_path)
    display.pin.set("482913")
    display.showFullScreen()
    qtbot.waitUntil(display.isFullScreen)
    qtbot.keyClick(display, Qt.Key.Key_Escape)
    dialog = display.findChild(PinDialog)
    assert dialog is not None and display.isFullScreen()
    dialog.entry.setText("111111")
    dialog._submit()
    assert display.isFullScreen() and dialog.error.text() == "Wrong PIN."
    dialog.entry.setText("482913")
    dialog._submit()
    qtbot.waitUntil(lambda: not display.isFullScreen())
    display.showFullScreen()
    qtbot.waitUntil(display.isFullScreen)
    display.close()  # closing is guarded the same way
    assert display.isVisible()


def test_five_hundred_retained_states_at_start_build_the_wall_once(qtbot: Any, tmp_path: Path) -> None:
    from kiosk.protocol.state import StallStateMessage

    bridge, display = window(qtbot, tmp_path)
    builds = []
    original = display._rebuild
    display._rebuild = lambda: (builds.append(1), original())  # type: ignore[method-assign]
    display._relayout.timeout.disconnect()
    display._relayout.timeout.connect(display._rebuild)
    for n in range(500):
        bridge.stall_state(n, StallStateMessage(n, f"Restroom {n // 20}", "", str(n % 20), n % 20, n // 20,
                                                "vacant", "door open", 0.0, 0.0))
    qtbot.waitUntil(lambda: len(display.tiles) == 500)
    assert len(builds) == 1


def test_the_free_locker_count_follows_the_hub_when_shown(qtbot: Any, tmp_path: Path, config: Config) -> None:
    from kiosk.store.lockers import Operator, Role

    hub = Hub(config, RecordingEvents())
    hub.start()
    try:
        bridge, display = window(qtbot, tmp_path, show_lockers=True)
        feed = DisplayFeed(BrokerAddress("127.0.0.1", config["broker.port"]), hub.internal.username,
                           hub.internal.password, bridge, lockers=True)
        feed.start()
        try:
            qtbot.waitUntil(lambda: feed.check()[0] and display.lockers.text() == "Lockers: 150 free", timeout=5000)
            staff = Operator("desk", Role.STAFF)
            hub.lockers.add_member("CS2021001", "Rahul Sharma", "CS", staff)
            hub.lockers.assign("CS2021001", staff)
            hub.locker_service.changed()
            qtbot.waitUntil(lambda: display.lockers.text() == "Lockers: 149 free", timeout=5000)
            hub.stop()
            qtbot.waitUntil(lambda: not feed.check()[0], timeout=5000)
            assert display.lockers.text() == "Lockers: state unknown"
        finally:
            feed.stop()
    finally:
        hub.stop()


def test_the_locker_count_is_hidden_unless_asked_for(qtbot: Any, tmp_path: Path) -> None:
    _bridge, display = window(qtbot, tmp_path)
    display.show()
    assert not display.lockers.isVisible()


def test_the_pin_dialog_is_readable_on_the_dark_display(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from kiosk.ui.widgets.pin_dialog import PinDialog

    _bridge, display = window(qtbot, tmp_path)
    display.pin.set("482913")
    display.show()
    qtbot.keyClick(display, Qt.Key.Key_Escape)
    display.showFullScreen()
    qtbot.waitUntil(display.isFullScreen)
    qtbot.keyClick(display, Qt.Key.Key_Escape)
    dialog = display.findChild(PinDialog)
    assert dialog is not None
    dialog.show()
    text = dialog.message.palette().color(dialog.message.foregroundRole()).name()
    back = dialog.palette().color(dialog.backgroundRole()).name()
    assert (text, back) == ("#000000", "#ffffff")  # before: the display's white labels on the dialog
    assert dialog.message.font().pixelSize() >= 20


def test_with_no_pin_set_a_passer_by_cannot_choose_one(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from kiosk.ui.widgets.pin_dialog import NoPinNotice, PinDialog

    _bridge, display = window(qtbot, tmp_path)
    display.showFullScreen()
    qtbot.waitUntil(display.isFullScreen)
    qtbot.keyClick(display, Qt.Key.Key_Escape)
    assert display.findChild(PinDialog) is None  # before: "Choose one (at least 6 digits)"
    notice = display.findChild(NoPinNotice)
    assert notice is not None and "kiosk admin set-pin" in notice.message.text()
    notice.accept()
    display.close()
    assert display.isVisible() and display.isFullScreen() and not display.pin.is_set


def wall_of(qtbot: Any, tmp_path: Path, rooms: list[int], size: tuple[int, int]) -> tuple[DisplayBridge, DisplayWindow]:
    from kiosk.protocol.state import StallStateMessage

    bridge, display = window(qtbot, tmp_path)
    display.resize(*size)
    display.show()
    n = 0
    for room, count in enumerate(rooms):
        for k in range(count):
            bridge.stall_state(n, StallStateMessage(n, f"Floor {room} restroom", "", str(k + 1), k, room,
                                                    ("vacant", "occupied", "no_signal")[n % 3], "", 0.0, time.time()))
            n += 1
    display.show_reachable(True, "")
    qtbot.waitUntil(lambda: len(display.tiles) == n)
    QApplication.sendPostedEvents()  # the layouts place the sized tiles
    QApplication.processEvents()
    return bridge, display


@pytest.mark.parametrize(("rooms", "size", "share"), [
    ([4], (1920, 1080), 0.06), ([12], (1920, 1080), 0.06), ([6, 6], (1920, 1080), 0.06),
    ([12], (1080, 1920), 0.03), ([4], (1366, 768), 0.06), ([10, 10, 10, 10], (1920, 1080), 0.03),
])
def test_the_wall_reads_from_five_metres(qtbot: Any, tmp_path: Path, rooms: list[int], size: tuple[int, int],
                                         share: float) -> None:
    """The stall number and the state word as shares of the screen's height (before: 3.1 % and 2.5 % for 4 stalls
    on 1080p, the tiles on half the width)."""
    _bridge, display = wall_of(qtbot, tmp_path, rooms, size)
    number, word = display.type_shares()
    assert number >= share and word >= share, (number, word)
    right = max(t.mapTo(display, t.rect().bottomRight()).x() for t in display.tiles.values())
    bottom = max(t.mapTo(display, t.rect().bottomRight()).y() for t in display.tiles.values())
    assert right <= size[0] and bottom <= size[1]  # all on screen
    if len(display.tiles) <= 12:
        assert right > size[0] * 0.85 or bottom > size[1] * 0.8  # ...and filling it


def test_hub_unreachable_is_one_big_state_of_its_own(qtbot: Any, tmp_path: Path) -> None:
    _bridge, display = wall_of(qtbot, tmp_path, [6, 6], (1920, 1080))
    display.show_reachable(False, "connection refused")
    qtbot.waitUntil(lambda: display.banner.isVisible())
    QApplication.sendPostedEvents()  # the layouts place the resized tiles
    QApplication.processEvents()
    assert "NO CONNECTION TO THE HUB since" in display.banner.text()
    _number, word = display.type_shares()
    assert display._banner_px >= word * display.height()  # at least as large as the state words
    assert all(t.stale and t.style_for().word != "NO SIGNAL" or t.state is StallState.NO_SIGNAL
               for t in display.tiles.values())
    bottom = max(t.mapTo(display, t.rect().bottomRight()).y() for t in display.tiles.values())
    assert display.banner.geometry().bottom() < min(t.mapTo(display, t.rect().topLeft()).y()
                                                    for t in display.tiles.values()) and bottom <= 1080


def test_a_narrow_wall_tile_shows_its_detail_line_whole(qtbot: Any) -> None:
    """40 stalls on a 1080p wall make tiles about 180 px wide: "last heard 5 min ago" was cut to "last heard 5 mi…";
    the line gets smaller, then its short form, never cut."""
    import time

    from PySide6.QtGui import QFontMetrics

    from kiosk.core.stalls import StallState
    from kiosk.ui.widgets.stall_tile import StallTile

    tile = StallTile(12, "12", large=True)
    qtbot.addWidget(tile)
    now = time.time()
    tile.show_state(StallState.NO_SIGNAL, "door sensor silent", now - 300)
    for width, height in ((480, 300), (180, 200), (130, 160)):
        tile.resize(width, height)
        line, font = tile.fitted_detail(now)
        room = width - 6 - 2 * tile._pad(height - 6, width - 6)
        assert QFontMetrics(font).horizontalAdvance(line) <= room, (width, line)
        assert line.endswith("5 min ago")
    tile.resize(480, 300)
    assert tile.fitted_detail(now)[0] == "last heard 5 min ago"  # room enough: the whole sentence
