"""Card swipes anywhere in the window (kiosk.ui.widgets.card_reader): a reader's fast burst ending in Enter goes to
the locker desk; a person's typing and an open dialog keep their keys."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.ui.widgets.card_reader import CardReader


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def focused_window(qtbot: Any) -> tuple[QWidget, QLineEdit, QPushButton]:
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    search, button = QLineEdit(window), QPushButton("Open", window)
    layout.addWidget(search)
    layout.addWidget(button)
    window.show()
    window.activateWindow()
    search.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is search)
    return window, search, button


def type_keys(target: QWidget, text: str, clock: Clock, gap_s: float) -> None:
    for char in text:
        clock.now += gap_s
        QTest.keyClick(target, char)


def enter(target: QWidget, clock: Clock, gap_s: float) -> None:
    clock.now += gap_s
    QTest.keyClick(target, Qt.Key.Key_Return)


def test_a_swipe_is_taken_whole_and_leaves_nothing_in_the_focused_field(qtbot: Any) -> None:
    window, search, _button = focused_window(qtbot)
    clock = Clock()
    reader = CardReader(window, clock=clock)
    pressed: list[bool] = []
    search.returnPressed.connect(lambda: pressed.append(True))
    with qtbot.waitSignal(reader.swiped) as swiped:
        type_keys(search, "CS2021001", clock, 0.008)
        enter(search, clock, 0.008)
    assert swiped.args == ["CS2021001"]
    assert search.text() == "" and pressed == [], "the burst's keys and its Enter reached the field"
    reader.stop()


def test_a_person_typing_keeps_every_key_and_the_enter(qtbot: Any) -> None:
    window, search, _button = focused_window(qtbot)
    clock = Clock()
    reader = CardReader(window, clock=clock)
    swipes: list[str] = []
    reader.swiped.connect(swipes.append)
    pressed: list[bool] = []
    search.returnPressed.connect(lambda: pressed.append(True))
    type_keys(search, "sharma", clock, 0.15)
    enter(search, clock, 0.15)
    assert search.text() == "sharma" and pressed == [True] and swipes == []
    reader.stop()


def test_two_fast_keys_of_a_person_arrive_in_order(qtbot: Any) -> None:
    """Rollover: a typist's two keys 20 ms apart are held back as a possible swipe, then given back."""
    window, search, _button = focused_window(qtbot)
    clock = Clock()
    reader = CardReader(window, clock=clock)
    type_keys(search, "pa", clock, 0.02)
    qtbot.waitUntil(lambda: search.text() == "pa")  # the run ended without an Enter: given back
    type_keys(search, "tel", clock, 0.2)
    assert search.text() == "patel"
    type_keys(search, "xy", clock, 0.02)
    enter(search, clock, 0.01)  # too short for a card: the field gets its keys and its Enter
    assert search.text() == "patelxy"
    reader.stop()


def test_an_open_dialog_keeps_its_input(qtbot: Any) -> None:
    window, _search, _button = focused_window(qtbot)
    clock = Clock()
    reader = CardReader(window, clock=clock)
    swipes: list[str] = []
    reader.swiped.connect(swipes.append)
    dialog = QDialog(window)
    field = QLineEdit(dialog)
    QVBoxLayout(dialog).addWidget(field)
    dialog.setModal(True)
    dialog.show()
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field)
    type_keys(field, "CS2021001", clock, 0.008)
    enter(field, clock, 0.008)
    assert swipes == [] and field.text() == "CS2021001"
    dialog.close()
    reader.stop()
