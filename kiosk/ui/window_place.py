"""Where a window was, per screen: its size, position and maximised state, remembered in a QSettings file.

A desk PC moves between screens (a 1920x1080 monitor at the desk, a 1366x768 laptop panel when the monitor is
unplugged): each screen, named by its connector and size, keeps its own place, so the window never comes back
larger than the screen it is on, half off it, or un-maximised. A place saved on a screen that has since shrunk
(a lower resolution, a panel scaled up) is clamped to the room the screen has now.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

DEFAULT_SIZE = (1100, 700)  # a first start: this much, or all the screen has if it is smaller, centred


def screen_key(screen: QScreen) -> str:
    """"HDMI-1 1920x1080": the connector and the size, so one monitor at two resolutions keeps two places."""
    size = screen.size()
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in (screen.name() or "screen"))
    return f"{name} {size.width()}x{size.height()}"


def fitted(place: QRect, room: QRect) -> QRect:
    """`place` made to fit inside `room`: no larger than it, and moved (not shrunk) back onto it."""
    width, height = min(place.width(), room.width()), min(place.height(), room.height())
    x = min(max(place.x(), room.left()), room.left() + room.width() - width)
    y = min(max(place.y(), room.top()), room.top() + room.height() - height)
    return QRect(x, y, width, height)


class WindowPlace(QObject):
    """Saves `window`'s place when it is hidden or closed and restores it once before it is first shown.

    Keys: `windows/<name>/last screen`, and `windows/<name>/<screen>/geometry` (x, y, width, height of the normal,
    not maximised, window) and `.../maximized`."""

    def __init__(self, window: QWidget, settings: QSettings, name: str = "desk") -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.group = f"windows/{name}"
        window.installEventFilter(self)

    def screen(self) -> QScreen:
        """The screen the window was last on, if it is still connected; else the primary screen."""
        last = str(self.settings.value(f"{self.group}/last screen", ""))
        for screen in QGuiApplication.screens():
            if screen_key(screen) == last:
                return screen
        return QGuiApplication.primaryScreen()

    def restore(self) -> bool:
        """Puts the window where it was on this screen (clamped to the room there is); a first start on this screen
        gets the default size, centred. Returns whether it should be shown maximised."""
        screen = self.screen()
        room = screen.availableGeometry()
        key = f"{self.group}/{screen_key(screen)}"
        saved = self.settings.value(f"{key}/geometry")
        place = None
        if isinstance(saved, (list, tuple)) and len(saved) == 4:
            try:
                place = QRect(*(int(v) for v in saved))
            except (TypeError, ValueError):
                place = None
        if place is None or place.width() < 100 or place.height() < 100:
            width, height = min(DEFAULT_SIZE[0], room.width()), min(DEFAULT_SIZE[1], room.height())
            place = QRect(room.left() + (room.width() - width) // 2, room.top() + (room.height() - height) // 2,
                          width, height)
        place = fitted(place, room)
        self.window.setScreen(screen)
        self.window.resize(place.size())
        self.window.move(place.topLeft())
        return str(self.settings.value(f"{key}/maximized", "false")).lower() == "true"

    def save(self) -> None:
        window = self.window
        screen = window.screen()
        if screen is None:
            return
        key = f"{self.group}/{screen_key(screen)}"
        normal = window.normalGeometry() if window.isMaximized() or window.isFullScreen() else window.geometry()
        if normal.isValid():
            self.settings.setValue(f"{key}/geometry", [normal.x(), normal.y(), normal.width(), normal.height()])
        self.settings.setValue(f"{key}/maximized", "true" if window.isMaximized() else "false")
        self.settings.setValue(f"{self.group}/last screen", screen_key(screen))
        self.settings.sync()

    def show(self) -> None:
        """Restore, then show (maximised when it was)."""
        if self.restore():
            self.window.showMaximized()
        else:
            self.window.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() in (QEvent.Type.Close, QEvent.Type.Hide) and \
                not self.window.windowState() & Qt.WindowState.WindowMinimized:
            self.save()
        return False
