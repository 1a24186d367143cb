"""The desk window comes back where it was on the screen it is on: size, position, maximised; never larger than
that screen or off it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from kiosk.ui.window_place import DEFAULT_SIZE, WindowPlace, fitted, screen_key


def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


def window(qtbot: Any, tmp_path: Path) -> tuple[QMainWindow, WindowPlace]:
    main = QMainWindow()
    qtbot.addWidget(main)
    return main, WindowPlace(main, settings(tmp_path))


def room() -> QRect:
    return QGuiApplication.primaryScreen().availableGeometry()


def test_a_first_start_fits_the_screen_and_is_centred(qtbot: Any, tmp_path: Path) -> None:
    main, place = window(qtbot, tmp_path)
    assert place.restore() is False
    width, height = min(DEFAULT_SIZE[0], room().width()), min(DEFAULT_SIZE[1], room().height())
    assert (main.width(), main.height()) == (width, height)
    assert abs(main.x() - (room().left() + (room().width() - width) // 2)) <= 1


def test_size_and_position_come_back_on_the_same_screen(qtbot: Any, tmp_path: Path) -> None:
    main, place = window(qtbot, tmp_path)
    place.show()
    qtbot.waitExposed(main)
    main.setGeometry(room().left() + 20, room().top() + 30, 500, 400)
    main.close()  # saved as it closes
    stored = settings(tmp_path)
    key = f"windows/desk/{screen_key(QGuiApplication.primaryScreen())}"
    assert [int(v) for v in stored.value(f"{key}/geometry")][2:] == [500, 400]
    again, place = window(qtbot, tmp_path)
    assert place.restore() is False
    assert (again.width(), again.height()) == (500, 400)


def test_a_place_larger_than_the_screen_or_off_it_is_brought_back(qtbot: Any, tmp_path: Path) -> None:
    screen = QGuiApplication.primaryScreen()
    stored = settings(tmp_path)
    key = f"windows/desk/{screen_key(screen)}"
    stored.setValue(f"{key}/geometry", [room().right() + 500, -300, room().width() + 600, room().height() + 400])
    stored.sync()
    main, place = window(qtbot, tmp_path)
    place.restore()
    assert room().contains(QRect(main.pos(), main.size()))
    assert (main.width(), main.height()) == (room().width(), room().height())


def test_maximised_stays_maximised_and_its_normal_size_is_kept(qtbot: Any, tmp_path: Path) -> None:
    main, place = window(qtbot, tmp_path)
    place.show()
    main.resize(400, 300)
    main.showMaximized()
    qtbot.waitUntil(main.isMaximized)
    place.save()
    again, place = window(qtbot, tmp_path)
    assert place.restore() is True
    assert (again.width(), again.height()) == (400, 300)  # the size it goes back to when un-maximised


def test_fitted_keeps_what_fits_and_moves_before_it_shrinks() -> None:
    screen = QRect(0, 0, 1366, 768)
    assert fitted(QRect(10, 20, 800, 600), screen) == QRect(10, 20, 800, 600)
    assert fitted(QRect(1000, 500, 800, 600), screen) == QRect(566, 168, 800, 600)
    assert fitted(QRect(-50, -50, 1920, 1080), screen) == QRect(0, 0, 1366, 768)


def test_garbage_in_the_file_is_a_first_start(qtbot: Any, tmp_path: Path) -> None:
    stored = settings(tmp_path)
    stored.setValue(f"windows/desk/{screen_key(QGuiApplication.primaryScreen())}/geometry", ["a", "b"])
    stored.sync()
    main, place = window(qtbot, tmp_path)
    assert place.restore() is False
    assert main.width() == min(DEFAULT_SIZE[0], room().width())
