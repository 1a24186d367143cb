"""The wall display: stall occupancy full screen, for students walking past. Read from 5 m, never lies.

- Large tiles sized to the screen, white on dark, each with colour, drawn icon and word (text contrast >= 4.5:1).
- When the hub is unreachable a banner says so in plain words and every tile turns grey with "hub unreachable":
  old states are never shown as current.
- No blinking, no names or personal data, the mouse cursor hidden.
- Night dimming on a schedule (`display.dim_from`, `display.dim_to`, `display.dim_brightness`): backgrounds darken,
  text stays at WCAG AA contrast (stall_tile.dimmed), never mid-grey on black.
- It opens on the monitor it was last on (Ctrl+Shift+Right moves it to the next one and remembers).
- Leaving full screen (Esc, F11) or closing needs the admin PIN. With none set, a passer-by cannot choose one: the
  display says it is set with `kiosk admin set-pin` on this machine and stays as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont, QFontMetrics, QGuiApplication, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.core.stalls import StallState
from kiosk.ui.widgets.flow_layout import FlowLayout
from kiosk.ui.widgets.pin_dialog import AdminPin, ask_admin
from kiosk.ui.widgets.stall_tile import STYLES, StallTile, TileStyle, dimmed

GAP = 12
WORDS = tuple(style.word for style in STYLES.values())  # every word a tile shows (WAITING only before any state)

BACKGROUND = "#101418"


def parse_clock(text: str) -> day_time:
    hours, minutes = text.strip().split(":")
    return day_time(int(hours), int(minutes))


def is_night(now: day_time, start: day_time, end: day_time) -> bool:
    """Whether `now` falls in [start, end), a range that may cross midnight; start == end means never."""
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


class DisplayBridge(QObject):
    """Signals:
        stallState(int, object): a stall's StallStateMessage, or None when the stall was removed.
        hubReachable(bool, str): whether the hub is reachable, and why not.
        lockerCounts(object): the lockers' LockerCountsMessage (only with display.show_lockers).
    """

    stallState = Signal(int, object)
    hubReachable = Signal(bool, str)
    lockerCounts = Signal(object)

    def stall_state(self, stall_id: int, message: Any) -> None:
        self.stallState.emit(stall_id, message)

    def hub_reachable(self, reachable: bool, detail: str) -> None:
        self.hubReachable.emit(reachable, detail)

    def locker_counts(self, message: Any) -> None:
        self.lockerCounts.emit(message)


class DisplayWindow(QWidget):
    def __init__(self, bridge: DisplayBridge, pin: AdminPin, settings_file: Path, dim_from: str = "22:00",
                 dim_to: str = "06:00", dim_brightness: float = 40.0, parent: QWidget | None = None,
                 show_lockers: bool = False, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.pin = pin
        self._now = clock  # the wall clock; tests pass their own moment
        self.settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
        self.dim_from, self.dim_to = parse_clock(dim_from), parse_clock(dim_to)
        self.dim_brightness = dim_brightness / 100
        self.brightness = 1.0  # now: dim_brightness at night, else 1
        self.allow_close = False
        self.reachable = False
        self.messages: dict[int, Any] = {}
        self.tiles: dict[int, StallTile] = {}
        self._sections: dict[str, tuple[QWidget, QLabel, FlowLayout]] = {}
        self.setWindowTitle("Restrooms")
        self.setObjectName("wallDisplay")
        self._paint_window()
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.title = QLabel("Restrooms", self)
        self.clock = QLabel(self)
        self.lockers = QLabel("Lockers: waiting for the hub", self)  # display.show_lockers
        self.lockers.setVisible(show_lockers)
        self.locker_message: Any = None
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #ffb300; color: #000000; padding: 12px; border-radius: 8px;")
        self.body = QVBoxLayout()
        self.body.setSpacing(GAP)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.lockers)
        header.addSpacing(48)
        header.addWidget(self.clock)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(header)
        layout.addWidget(self.banner)
        layout.addLayout(self.body)
        layout.addStretch(1)
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(100)
        self._relayout.timeout.connect(self._rebuild)
        bridge.stallState.connect(self.show_stall)
        bridge.hubReachable.connect(self.show_reachable)
        bridge.lockerCounts.connect(self.show_lockers)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        self._lost_at = ""
        self._banner_lines = ("", "")
        self.reachable = True  # so that the first call below sets the banner
        self.show_reachable(False, "connecting to the hub")
        self.tick()

    # --- data ---------------------------------------------------------------------------------------------------

    def show_stall(self, stall_id: int, message: Any) -> None:
        old = self.messages.get(stall_id)
        if message is None:
            self.messages.pop(stall_id, None)
        else:
            self.messages[stall_id] = message
        def placed(m: Any) -> tuple[Any, ...] | None:
            return None if m is None else (m.restroom, m.restroom_position, m.label, m.position)

        if stall_id not in self.tiles or placed(old) != placed(message):
            if not self._relayout.isActive():  # retained states arrive one by one at start: build once, 100 ms on
                self._relayout.start()
        elif message is not None:
            self.tiles[stall_id].show_state(StallState(message.state), message.reason, message.updated)
            self._update_titles()

    def show_lockers(self, message: Any) -> None:
        self.locker_message = message
        self._locker_text()

    def _locker_text(self) -> None:
        message = self.locker_message
        if message is None or not self.reachable:
            self.lockers.setText("Lockers: state unknown" if message is not None else "Lockers: waiting for the hub")
        else:
            self.lockers.setText(f"Lockers: {message.free} free" if message.free else "Lockers: none free")

    def show_reachable(self, reachable: bool, detail: str) -> None:
        """The reason (`detail`) goes to the log; the banner says what it means for the reader."""
        if reachable == self.reachable and self.banner.text():
            return
        self.reachable = reachable
        self.banner.setVisible(not reachable)
        self._lost_at = datetime.now().strftime("%H:%M")
        self._banner_text()
        for tile in self.tiles.values():
            tile.stale = not reachable
            tile.update()
        self._update_titles()
        self._locker_text()
        self._size_tiles()

    def _banner_text(self) -> None:
        """One big line (at least the size of the state words) and one smaller line that says what it means."""
        big = getattr(self, "_banner_px", 48)
        if self.messages:
            head = f"NO CONNECTION TO THE HUB since {self._lost_at}"
            rest = "The stalls below show their last known state, greyed: they may have changed."
        else:
            head, rest = "Waiting for the hub", "No stall states yet."
        self._banner_lines = (head, rest)
        self.banner.setText(f"<div style='font-size:{big}px; font-weight:bold'>{head}</div>"
                            f"<div style='font-size:{max(18, big // 2)}px'>{rest}</div>")

    def _rebuild(self) -> None:
        for widget, _title, _flow in self._sections.values():
            widget.setParent(None)
            widget.deleteLater()
        self._sections, self.tiles = {}, {}
        for message in sorted(self.messages.values(), key=lambda m: (m.restroom_position, m.restroom, m.position)):
            if message.restroom not in self._sections:
                section = QWidget(self)
                title = QLabel(section)
                title.setWordWrap(True)  # a long name wraps: it never widens the window past a portrait screen
                flow = FlowLayout(spacing=GAP)
                column = QVBoxLayout(section)
                column.setContentsMargins(0, 0, 0, 0)
                column.addWidget(title)
                column.addLayout(flow)
                self.body.addWidget(section)
                self._sections[message.restroom] = (section, title, flow)
            section, _title, flow = self._sections[message.restroom]
            tile = StallTile(message.stall_id, message.label, large=True, parent=section)
            tile.show_state(StallState(message.state), message.reason, message.updated)
            tile.stale = not self.reachable
            tile.brightness = self.brightness
            flow.addWidget(tile)
            self.tiles[message.stall_id] = tile
        self._update_titles()  # first: the titles' heights are part of the sizing
        self._size_tiles()

    def _update_titles(self) -> None:
        for restroom, (_w, title, _f) in self._sections.items():
            stalls = [m for m in self.messages.values() if m.restroom == restroom]
            free = sum(1 for m in stalls if m.state == StallState.VACANT.value)
            floor = next((m.floor for m in stalls if m.floor), "")
            count = f"{free} of {len(stalls)} free" if self.reachable else "state unknown"
            title.setText(f"{restroom}{'  ·  floor ' + floor if floor else ''}   —   {count}")

    # --- appearance ---------------------------------------------------------------------------------------------

    def _size_tiles(self) -> None:
        """Tiles as large as the screen allows, filling it: the number of tiles per row that gives the largest state
        word wins (every restroom's stalls wrap at that number), in landscape and portrait alike."""
        width, height = max(self.width(), 320), max(self.height(), 320)
        self._px = px = max(22, int(height * 0.04))
        self._paint_labels()
        counts = [sum(1 for m in self.messages.values() if m.restroom == r) for r in self._sections]
        if not counts:
            return
        self._banner_px = int(height * 0.06)
        word = self._layout_tiles(counts, width, height, px)
        if self.banner.isVisibleTo(self) and word > self._banner_px:
            self._banner_px = int(word) + 1  # the banner at least as large as the state words
            self._layout_tiles(counts, width, height, px)

    def _layout_tiles(self, counts: list[int], width: int, height: int, px: int) -> float:
        self._banner_text()
        gap = GAP
        free_h = height - self._overhead(width)
        free_w = width - 32 - 8  # the flow wraps a row that is a pixel too wide
        probe = QFont(self.font())
        probe.setBold(True)
        probe.setPixelSize(100)
        metrics = QFontMetrics(probe)
        one = max(metrics.horizontalAdvance(w) for w in WORDS) / 100  # the widest word, per pixel of type
        two = max(metrics.horizontalAdvance(p) for w in WORDS for p in w.split(" ")) / 100  # in two lines
        best: tuple[float, int, int] = (0.0, 1, 1)
        for per_row in range(1, max(counts) + 1):
            rows = sum(-(-n // per_row) for n in counts)
            tile_w = (free_w - gap * (per_row - 1)) / per_row
            tile_h = min((free_h - gap * (rows - len(counts))) / rows, tile_w * 1.3)
            room = tile_w - 6 - 2 * min((tile_h - 6) * 0.08, (tile_w - 6) * 0.04)
            word = max(min(0.34 * (tile_h - 6), room / one), min(0.21 * (tile_h - 6), room / two))
            word = min(word, 0.26 * (tile_h - 6))  # the stall number's size: both must be readable
            if word > best[0]:
                best = (word, int(tile_w), int(tile_h))
        word, tile_w, tile_h = best
        tile_w, tile_h = max(120, tile_w), max(90, tile_h)
        for tile in self.tiles.values():
            tile.setFixedSize(tile_w, tile_h)
        return word

    def _overhead(self, width: int) -> int:
        """The height that is not tiles: margins, the header, the banner when shown, each restroom's title."""
        outer = self.layout()
        spacing = max(0, outer.spacing())
        margins = outer.contentsMargins()
        used = margins.top() + margins.bottom() + max(w.sizeHint().height() for w in (self.title, self.clock,
                                                                                      self.lockers)) + spacing
        if self.banner.isVisibleTo(self):
            banner = self._banner_height(width - 32 - 24)
            self.banner.setFixedHeight(banner)  # what the tiles were sized for
            used += banner + spacing
        for section, title, _flow in self._sections.values():
            title.ensurePolished()
            used += (max(title.heightForWidth(width - 32), title.sizeHint().height())
                     + max(0, section.layout().spacing()) + self.body.spacing())
        return used + spacing + 8  # and the spacing before the closing stretch

    def _banner_height(self, width: int) -> int:
        """The banner's two lines at their sizes, wrapped to `width` (a rich-text label's own heightForWidth is
        far off for large type)."""
        big = getattr(self, "_banner_px", 48)
        height = 24  # its padding
        for text, px, bold in ((self._banner_lines[0], big, True), (self._banner_lines[1], max(18, big // 2), False)):
            font = QFont(self.font())
            font.setPixelSize(px)
            font.setBold(bold)
            metrics = QFontMetrics(font)
            lines = max(1, -(-metrics.horizontalAdvance(text) // max(1, width)))
            height += lines * metrics.lineSpacing()
        return int(height * 1.1)  # rich text's own line gaps

    def type_shares(self) -> tuple[float, float]:
        """The smallest stall number and state word shown, as shares of the screen's height (readable at 5 m: at
        least 6 % up to 12 stalls)."""
        height = max(1, self.height())
        sizes = [tile.type_sizes(w) for tile in self.tiles.values() for w in WORDS]
        if not sizes:
            return 0.0, 0.0
        return min(s[0] for s in sizes) / height, min(s[1] for s in sizes) / height

    def text_style(self) -> TileStyle:
        """The window's own colours (background, and its labels' text) at the present brightness."""
        return dimmed(TileStyle("", BACKGROUND, "#ffffff"), self.brightness)

    def _paint_window(self) -> None:
        style = self.text_style()
        self.setStyleSheet(f"#wallDisplay {{ background: {style.background}; }} "
                           f"#wallDisplay QLabel {{ color: {style.text}; }}")

    def _paint_labels(self) -> None:
        px = getattr(self, "_px", 28)
        for _w, title, _f in self._sections.values():
            title.setStyleSheet(f"font-size: {int(px * (0.8 if len(self._sections) <= 2 else 0.6))}px; "
                                "font-weight: bold;")  # many restrooms: their titles give way to the tiles
        self.title.setStyleSheet(f"font-size: {px}px; font-weight: bold;")
        self.clock.setStyleSheet(f"font-size: {px}px;")
        self.lockers.setStyleSheet(f"font-size: {px}px; font-weight: bold;")
        banner = dimmed(STYLES[StallState.ATTENTION], self.brightness)
        self.banner.setStyleSheet(f"background: {banner.background}; color: {banner.text}; padding: 12px; "
                                  "border-radius: 8px;")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._size_tiles()

    def tick(self, now: float | None = None) -> None:
        moment = datetime.fromtimestamp(now if now is not None else self._now())
        self.clock.setText(moment.strftime("%H:%M"))
        brightness = self.dim_brightness if is_night(moment.time(), self.dim_from, self.dim_to) else 1.0
        if brightness != self.brightness:
            self.brightness = brightness
            self._paint_window()
            self._paint_labels()
        for tile in self.tiles.values():
            tile.brightness = brightness
            tile.update()  # "updated N s ago"

    # --- screens and leaving ------------------------------------------------------------------------------------

    def show_on_remembered_screen(self) -> None:
        name = self.settings.value("screen", "")
        screens = QGuiApplication.screens()
        screen = next((s for s in screens if s.name() == name), QGuiApplication.primaryScreen())
        if screen is not None:
            self.setGeometry(screen.geometry())
        self.showFullScreen()

    def next_screen(self) -> None:
        screens = QGuiApplication.screens()
        if len(screens) < 2:
            return
        current = self.screen()
        index = (screens.index(current) + 1) % len(screens) if current in screens else 0
        self.settings.setValue("screen", screens[index].name())
        self.settings.sync()
        self.showNormal()
        self.setGeometry(screens[index].geometry())
        self.showFullScreen()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_F11) and self.isFullScreen():
            ask_admin(self.pin, "leave full screen", self, self.leave_full_screen, may_choose=False)
            return
        if event.key() == Qt.Key.Key_Right and event.modifiers() == (Qt.KeyboardModifier.ControlModifier
                                                                      | Qt.KeyboardModifier.ShiftModifier):
            self.next_screen()
            return
        super().keyPressEvent(event)

    def leave_full_screen(self) -> None:
        self.setCursor(Qt.CursorShape.ArrowCursor)
        self.showNormal()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close or not self.isFullScreen():
            event.accept()
            return
        event.ignore()
        ask_admin(self.pin, "close the display", self, self._close_now, may_choose=False)

    def _close_now(self) -> None:
        self.allow_close = True
        self.close()
