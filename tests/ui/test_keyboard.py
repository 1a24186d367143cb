"""The keyboard reaches everything: Ctrl+Tab walks every tab and sub-page from anywhere, Alt+number jumps, F1 says
the keys and what each tab is for, every button has its Alt+letter, and the focused control is framed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from kiosk.ui import theme
from kiosk.ui.keyboard import letter_of, sub_pages, visible_buttons, with_mnemonic
from kiosk.ui.main_window import MainWindow
from tests.ui.test_admin_view import first_admin, start


@pytest.fixture
def signed_in(qtbot: Any, config: Any) -> Iterator[MainWindow]:
    main, starter = start(qtbot, config)
    first_admin(qtbot, main)
    main.activateWindow()
    qtbot.waitActive(main)
    yield main
    main.admin.wait()
    starter.stop()


def place(main: MainWindow) -> str:
    index = main.tabs.currentIndex()
    inner = sub_pages(main.tabs.widget(index))
    name = main.tabs.tabText(index).replace("&", "")
    return f"{name} > {inner.tabText(inner.currentIndex()).replace('&', '')}" if inner is not None else name


EVERY_PAGE = ["Stalls", "Lockers > Desk", "Lockers > Assigned now", "Lockers > Members", "Lockers > History",
              "Lockers > Figures", "Energy", "Admin > Devices", "Admin > Commands", "Admin > Firmware",
              "Admin > Notifications", "Admin > Health", "Admin > Settings", "Admin > Operators",
              "Admin > Audit log"]


def press(qtbot: Any, main: MainWindow, key: Any, modifiers: Any = Qt.KeyboardModifier.NoModifier) -> None:
    target = QApplication.focusWidget() or main
    qtbot.keyClick(target, key, modifiers)


def test_ctrl_tab_walks_every_tab_and_sub_page_and_back(qtbot: Any, signed_in: MainWindow) -> None:
    main = signed_in
    main.tabs.setCurrentIndex(0)
    seen = [place(main)]
    for _ in range(len(EVERY_PAGE)):
        if place(main) == "Lockers > Assigned now":  # where Qt's own Ctrl+Tab used to keep it: focus in the table
            main.lockers.assigned.table.setFocus()
        press(qtbot, main, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
        seen.append(place(main))
    assert seen == EVERY_PAGE + ["Stalls"]
    back = []
    for _ in range(len(EVERY_PAGE)):
        press(qtbot, main, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        back.append(place(main))
    assert back == list(reversed(EVERY_PAGE))
    press(qtbot, main, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert place(main) == "Lockers > Desk"
    press(qtbot, main, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert place(main) == "Stalls"


def test_alt_number_jumps_to_a_tab_and_f1_explains_them(qtbot: Any, signed_in: MainWindow) -> None:
    main = signed_in
    main.lockers.desk.scan.setFocus()
    for number, title in ((3, "Energy"), (1, "Stalls"), (4, "Admin"), (2, "Lockers")):
        press(qtbot, main, getattr(Qt.Key, f"Key_{number}"), Qt.KeyboardModifier.AltModifier)
        assert main.tabs.tabText(main.tabs.currentIndex()) == title
    press(qtbot, main, Qt.Key.Key_F1)
    box = main.keys.help_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    for words in ("Alt+1", "Stalls", "locker desk", "Ctrl+Tab", "phantom-load"):
        assert words in box.text()
    box.close()


def test_every_button_on_every_page_has_its_own_alt_letter(qtbot: Any, signed_in: MainWindow) -> None:
    main = signed_in
    problems = []
    main.tabs.setCurrentIndex(0)
    for _ in EVERY_PAGE:
        index = main.tabs.currentIndex()
        inner = sub_pages(main.tabs.widget(index))
        scope = inner.currentWidget() if inner is not None else main.tabs.currentWidget()
        letters: dict[str, str] = {}
        for button in visible_buttons(scope):
            letter = letter_of(button.text())
            if letter is None:
                problems.append(f"{place(main)}: {button.text()!r} has no Alt+letter")
            elif letter in letters:
                problems.append(f"{place(main)}: {button.text()!r} and {letters[letter]!r} share Alt+{letter}")
            else:
                letters[letter] = button.text()
        main.keys.step(1)
    assert problems == []
    desk = main.lockers.desk  # buttons shown later (a tapped locker's actions) have theirs too
    assert all(letter_of(b.text()) for b in (desk.release_button, desk.force_button, desk.clear_button))


def test_mnemonics_prefer_word_starts_and_keep_what_is_there() -> None:
    taken = {"e"}
    assert with_mnemonic("Export CSV", taken) == "Export &CSV" and "c" in taken
    assert with_mnemonic("Export &PNG", taken) == "Export &PNG"
    assert with_mnemonic("Cc", {"c"}) == "Cc"


def test_the_focused_button_is_framed(qtbot: Any) -> None:
    app = QApplication.instance()
    before = app.styleSheet()
    theme.apply(app)
    try:
        button = QPushButton("Save")
        other = QPushButton("Other")
        qtbot.addWidget(button)
        qtbot.addWidget(other)
        button.resize(160, 48)
        button.show()
        qtbot.waitExposed(button)
        plain = button.grab().toImage()
        button.setFocus(Qt.FocusReason.TabFocusReason)
        button.activateWindow()
        qtbot.waitUntil(button.hasFocus)
        framed = button.grab().toImage()
        assert plain != framed
        assert framed.pixelColor(1, button.height() // 2).name() == "#1a73e8"  # the left edge of the frame
    finally:
        app.setStyleSheet(before)


def test_the_station_walks_its_tabs_too(qtbot: Any) -> None:
    from kiosk.ui.station_window import StationWindow

    class Nothing:
        def __getattr__(self, name: str) -> Any:
            raise ConnectionError("no hub in this test")

    window = StationWindow("http://127.0.0.1:9", Nothing(), Nothing(), energy_ops=Nothing(), stall_ops=Nothing(),
                           tiles_of=lambda event: [])
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    names = []
    for _ in range(7):
        window.keys.step(1)
        names.append(place(window))  # type: ignore[arg-type]
    assert names[0] == "Lockers > Desk" and "Energy" in names and "Stalls" in names

