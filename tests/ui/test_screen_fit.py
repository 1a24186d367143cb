"""Every page fits the screens a desk has: with real content behind it (the demo devices, a roster with lockers in
use, a week of energy history, an admin signed in with a device selected), no tab or sub-page makes the window
bigger than 1280x720, and at 1366x768 and 1280x720 the window keeps the size it was given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QTabWidget

from kiosk.ui.bridge import Bridge
from kiosk.ui.main_window import MainWindow
from tests.screenshots import admin, energy, first_admin, lockers, pump
from tests.ui.conftest import AttachedHub

SCREENS = ((1366, 768), (1280, 720))


@pytest.fixture
def furnished(qtbot: Any, config: Any, tmp_path: Path) -> Iterator[MainWindow]:
    app = QApplication.instance()
    bridge = Bridge()
    main = MainWindow(bridge, database=config.database_label)
    qtbot.addWidget(main)
    main.resize(1280, 720)
    main.show()
    starter = AttachedHub(config, main)
    ready: list[bool] = []
    bridge.servicesReady.connect(lambda: ready.append(True))
    starter.start()
    try:
        qtbot.waitUntil(lambda: bool(ready), timeout=15000)
        first_admin(app, main, tmp_path)
        starter._hub.demonstration.start()
        qtbot.waitUntil(lambda: main.devices_model.rowCount() >= 8, timeout=10000)
        lockers(app, main, starter, tmp_path)
        energy(app, main, starter, tmp_path)
        admin(app, main, starter, tmp_path)
        main.admin.pages.setCurrentWidget(main.admin.devices)
        main.devices.table.selectRow(0)  # the detail pane with every fact and button of a device
        yield main
    finally:
        main.admin.wait()
        starter.stop()


def pages(main: MainWindow) -> Iterator[str]:
    """Brings every tab and sub-page on screen in turn; yields its name."""
    for index in range(main.tabs.count()):
        main.tabs.setCurrentIndex(index)
        inner = getattr(main.tabs.widget(index), "pages", None)
        if isinstance(inner, QTabWidget):
            for sub in range(inner.count()):
                inner.setCurrentIndex(sub)
                yield f"{main.tabs.tabText(index)} > {inner.tabText(sub)}"
        else:
            yield main.tabs.tabText(index)


def test_every_page_fits_a_1280x720_screen(furnished: MainWindow) -> None:
    app = QApplication.instance()
    main = furnished
    too_big = []
    for name in pages(main):
        pump(app, 0.15)
        hint = main.minimumSizeHint()
        if hint.width() > 1280 or hint.height() > 720:
            too_big.append(f"{name}: {hint.width()}x{hint.height()}")
    assert too_big == []
    for width, height in SCREENS:
        main.resize(width, height)
        for name in pages(main):
            pump(app, 0.05)
            assert (name, main.width(), main.height()) == (name, width, height)
