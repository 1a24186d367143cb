"""What closing the desk window does when it started the hub: never stop data collection without asking.

The hub is its own process (kiosk --headless), so closing the window cannot stop it by accident. When this window
started it, closing (the window's X, Alt+F4) asks once: keep collecting in the background (the window goes to the
tray icon where the desktop has one, else it closes; starting the kiosk again brings a window back) or stop the hub.
"Remember my choice" keeps the answer in the window's settings file, so the question comes once. A window attached
to a hub that runs as a service simply closes. Quitting on purpose (SIGTERM, *Stop the hub*) closes without asking.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QCheckBox, QMenu, QMessageBox, QSystemTrayIcon, QWidget

ON_CLOSE_KEY = "window/on_close"
KEEP, STOP = "background", "stop"


class CloseGuard(QObject):
    """Signals:
        stopRequested(): the user chose to stop the hub (the application quits).
        keptInBackground(): the window was hidden; the hub goes on.
    """

    stopRequested = Signal()
    keptInBackground = Signal()

    def __init__(self, window: QWidget, settings: QSettings) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.allow_close = False  # set when quitting on purpose
        self.hosting = True  # this window started the hub (False: attached to one that runs anyway, or none started)
        self.box: QMessageBox | None = None
        self.remember: QCheckBox | None = None
        self.tray: QSystemTrayIcon | None = None

    def may_close(self) -> bool:
        """Called from the window's closeEvent: True lets it close (and the application quit)."""
        if self.allow_close or not self.hosting:
            return True
        remembered = self.settings.value(ON_CLOSE_KEY, "")
        if remembered == STOP:
            self.allow_close = True
            self.stopRequested.emit()
            return True
        if remembered == KEEP:
            return self._to_background(closing=True)
        self._ask()
        return False

    def _ask(self) -> None:
        if self.box is not None and self.box.isVisible():
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Close the kiosk window?",
                          "This window started the hub: the broker, the database and the devices. While it runs, "
                          "every reading from the devices is stored, with or without this window.\n\nKeep collecting "
                          "in the background, or stop the hub? When it is stopped, the devices' readings are not "
                          "stored until it starts again.",
                          QMessageBox.StandardButton.Cancel, self.window)
        keep = box.addButton("&Keep collecting", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("&Stop the hub", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        self.remember = QCheckBox("&Remember my choice", box)
        box.setCheckBox(self.remember)
        keep.clicked.connect(lambda: self._chosen(KEEP))
        stop.clicked.connect(lambda: self._chosen(STOP))
        self.box = box
        box.open()

    def _chosen(self, choice: str) -> None:
        if self.remember is not None and self.remember.isChecked():
            self.settings.setValue(ON_CLOSE_KEY, choice)
            self.settings.sync()
        if choice == KEEP:
            self._to_background(closing=False)
        else:
            self.allow_close = True
            self.stopRequested.emit()

    def _to_background(self, closing: bool) -> bool:
        """Keep collecting without this window: to the tray where there is one, else the window closes (True: it
        may close now, from inside its closeEvent)."""
        self.keptInBackground.emit()
        if not QSystemTrayIcon.isSystemTrayAvailable():  # nothing would bring a hidden window back: close it
            self.allow_close = True
            if not closing:
                self.window.close()
            return True
        self.window.hide()
        self._show_tray()
        return False

    def bring_back(self) -> None:
        if self.window.isMaximized():  # maximised before it went to the background: maximised again
            self.window.showMaximized()
        else:
            self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _show_tray(self) -> None:
        if self.tray is not None or not QSystemTrayIcon.isSystemTrayAvailable():
            return
        tray = QSystemTrayIcon(self.window.windowIcon() if not self.window.windowIcon().isNull()
                               else QIcon.fromTheme("applications-office"), self)
        tray.setToolTip("Front Desk Kiosk: collecting in the background")
        menu = QMenu(self.window)
        show = QAction("&Open the kiosk window", menu)
        show.triggered.connect(self.bring_back)
        stop = QAction("&Stop the hub", menu)
        stop.triggered.connect(lambda: self._chosen(STOP))
        menu.addAction(show)
        menu.addAction(stop)
        tray.setContextMenu(menu)
        tray.activated.connect(lambda reason: self.bring_back()
                               if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        tray.show()
        self.tray = tray
