"""The window's keyboard: walking every tab and sub-page, jumping to a tab, the F1 help, and a mnemonic on every button.

Qt's own Ctrl+Tab belongs to the QTabWidget that has the focus, so in a tab with sub-pages (Lockers, Admin) it
cycles that tab's sub-pages and never leaves them. Here Ctrl+Tab / Ctrl+PgDown walk one sequence: every tab and,
inside a tab with sub-pages, each of them, then on to the next tab (Ctrl+Shift+Tab / Ctrl+PgUp back); Alt+1..9
jump to a tab. The keys are window shortcuts, so they work wherever the focus is, a table or a text field included.

Mnemonics: `Mnemonics` gives every push button and check box without one an Alt+letter, unique on the page it is
shown with (the tab bars' letters are kept free), the way KDE's accelerator manager does: a button made later
(a detail pane's actions) gets one when its page is shown again.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QTabWidget, QWidget

NEXT_KEYS = ("Ctrl+Tab", "Ctrl+PgDown")
PREVIOUS_KEYS = ("Ctrl+Shift+Tab", "Ctrl+Backtab", "Ctrl+PgUp")
PURPOSES = {  # what each tab is for, in the F1 help (the desk window and a station)
    "Stalls": "which restroom stalls are free, live; a stall's day and its sensors (tap a stall); restrooms and their "
              "sensors (Edit restrooms)",
    "Lockers": "the locker desk: scan or type an enrollment number to give out or take back a locker; who has "
               "which locker, the roster, the history and the figures",
    "Energy": "power per port, live and from an hour to a year; phantom-load alerts to acknowledge; exports",
    "Admin": "for admins, after signing in: devices and their tokens, commands, firmware, notifications, the hub's "
             "health, settings, operators and the audit log",
}


def sub_pages(page: QWidget) -> QTabWidget | None:
    """The tab's own sub-page tabs (its `pages`), when it has them and they are on show (the Admin tab's pages are
    there only while an admin is signed in)."""
    inner = getattr(page, "pages", None)
    if isinstance(inner, QTabWidget) and inner.isVisibleTo(page) and inner.count() > 0:
        return inner
    return None


class TabWalker(QObject):
    """The shortcuts of one window whose tabs are `tabs`. `purposes`: tab title -> what the tab is for (F1)."""

    def __init__(self, window: QWidget, tabs: QTabWidget, purposes: dict[str, str]) -> None:
        super().__init__(window)
        self.window = window
        self.tabs = tabs
        self.purposes = purposes
        self.help_box: QMessageBox | None = None
        for keys, step in ((NEXT_KEYS, 1), (PREVIOUS_KEYS, -1)):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), window)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(lambda s=step: self.step(s))
        for number in range(1, 10):
            shortcut = QShortcut(QKeySequence(f"Alt+{number}"), window)
            shortcut.activated.connect(lambda n=number: self.jump(n - 1))
        shortcut = QShortcut(QKeySequence(Qt.Key.Key_F1), window)
        shortcut.activated.connect(self.show_help)

    def stops(self) -> list[tuple[int, int | None]]:
        """Every place the walk stops, in order: (tab, sub-page or None)."""
        out: list[tuple[int, int | None]] = []
        for index in range(self.tabs.count()):
            if not self.tabs.isTabEnabled(index):
                continue
            inner = sub_pages(self.tabs.widget(index))
            if inner is None:
                out.append((index, None))
            else:
                out += [(index, sub) for sub in range(inner.count()) if inner.isTabEnabled(sub)]
        return out

    def where(self) -> tuple[int, int | None]:
        index = self.tabs.currentIndex()
        inner = sub_pages(self.tabs.widget(index))
        return index, (inner.currentIndex() if inner is not None else None)

    def step(self, by: int) -> None:
        stops = self.stops()
        if not stops:
            return
        here = self.where()
        position = stops.index(here) if here in stops else 0
        self.go(*stops[(position + by) % len(stops)])

    def go(self, index: int, sub: int | None) -> None:
        self.tabs.setCurrentIndex(index)
        inner = sub_pages(self.tabs.widget(index))
        if inner is not None and sub is not None:
            inner.setCurrentIndex(sub)
        focus = inner.currentWidget() if inner is not None else self.tabs.currentWidget()
        if focus is not None and not focus.isAncestorOf(self.window.focusWidget()):
            focus.setFocus(Qt.FocusReason.TabFocusReason)  # the keys that follow go to the page on screen

    def jump(self, index: int) -> None:
        if index < self.tabs.count() and self.tabs.isTabEnabled(index):
            self.tabs.setCurrentIndex(index)

    def help_text(self) -> str:
        rows = "".join(f"<tr><td><b>Alt+{n + 1}</b> {html.escape(self.tabs.tabText(n).replace('&', ''))}</td>"
                       f"<td>{html.escape(self.purposes.get(self.tabs.tabText(n).replace('&', ''), ''))}</td></tr>"
                       for n in range(self.tabs.count()))
        return ("<h3>Tabs</h3><table cellspacing='6'>" + rows + "</table>"
                "<h3>Keys</h3><table cellspacing='6'>"
                "<tr><td><b>Ctrl+Tab</b>, <b>Ctrl+PgDown</b></td><td>next page (every tab and sub-page in turn)"
                "</td></tr>"
                "<tr><td><b>Ctrl+Shift+Tab</b>, <b>Ctrl+PgUp</b></td><td>previous page</td></tr>"
                "<tr><td><b>Alt</b> + the underlined letter</td><td>presses that button</td></tr>"
                "<tr><td><b>Tab</b>, <b>Shift+Tab</b></td><td>next or previous control; the one with the focus "
                "has a blue frame</td></tr>"
                "<tr><td><b>Enter</b></td><td>in the scan field: assign or release; a card reader works on any "
                "page</td></tr>"
                "<tr><td><b>Esc</b></td><td>closes a dialog without changing anything</td></tr>"
                "<tr><td><b>F1</b></td><td>this help</td></tr></table>")

    def show_help(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Keys and tabs", self.help_text(),
                          QMessageBox.StandardButton.Close, self.window)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.help_box = box
        box.open()


def letter_of(text: str) -> str | None:
    """The mnemonic letter a text has ("Export &CSV" -> "c"), or None."""
    at = text.replace("&&", "").find("&")
    clean = text.replace("&&", "")
    return clean[at + 1].lower() if 0 <= at < len(clean) - 1 else None


def with_mnemonic(text: str, taken: set[str]) -> str:
    """`text` with an & before the first letter not in `taken`: word starts first, then any letter; unchanged
    when every letter is taken."""
    if letter_of(text) is not None or not text.strip():
        return text
    starts = [i for i, c in enumerate(text) if c.isalnum() and (i == 0 or not text[i - 1].isalnum())]
    others = [i for i, c in enumerate(text) if c.isalnum() and i not in starts]
    for i in starts + others:
        if text[i].lower() not in taken:
            taken.add(text[i].lower())
            return text[:i] + "&" + text[i:]
    return text


class Mnemonics(QObject):
    """Keeps an Alt+letter on every button of each page of `tabs` (and its sub-pages), unique within what is on
    screen together: the tab bars and the page. Runs when a page is shown."""

    def __init__(self, tabs: QTabWidget, reserved: str = "") -> None:
        super().__init__(tabs)
        self.tabs = tabs
        self.reserved = set(reserved.lower())
        tabs.currentChanged.connect(lambda _: self.refresh())
        tabs.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            self.refresh()
        return False

    def refresh(self) -> None:
        page = self.tabs.currentWidget()
        if page is None:
            return
        bars = {letter_of(self.tabs.tabText(i)) for i in range(self.tabs.count())}
        inner = sub_pages(page)
        if inner is not None:
            if not getattr(inner, "_mnemonics_followed", False):
                inner.currentChanged.connect(lambda _: self.refresh())
                inner._mnemonics_followed = True  # type: ignore[attr-defined]
            bars |= {letter_of(inner.tabText(i)) for i in range(inner.count())}
            scope = inner.currentWidget()
        else:
            scope = page
        if scope is not None:  # hidden ones too: a button that appears later (a selection's actions) has its own
            label(page_buttons(scope), bars | self.reserved)


def visible_buttons(scope: QWidget) -> Iterator[QAbstractButton]:
    for button in scope.findChildren(QAbstractButton):
        if button.isVisibleTo(scope) and button.text() and type(button).__name__ != "QToolButton":
            yield button


def page_buttons(scope: QWidget) -> Iterator[QAbstractButton]:
    for button in scope.findChildren(QAbstractButton):
        if button.text() and type(button).__name__ != "QToolButton" and button.window() is scope.window():
            yield button


def label(buttons: Iterator[QAbstractButton], taken: set[Any]) -> None:
    chosen = list(buttons)
    used = set(taken) | {letter_of(b.text()) for b in chosen}
    for button in chosen:
        if letter_of(button.text()) is None:
            button.setText(with_mnemonic(button.text(), used))
