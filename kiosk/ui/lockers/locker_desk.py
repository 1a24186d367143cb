"""The desk page of the Lockers tab: a scan field that keeps the focus, the answer in large type, and the locker map.

Scan (or type) an enrollment number and press Enter:
- a member without a locker gets one (the policy's choice, or the locker picked on the map);
- a member who has one is told which, and a second scan of the same card within 30 s releases it (the same card
  read twice within a second counts once: readers repeat themselves);
- anything else (not a number, not on the roster, no free locker) gets a message that says what to do next.
Typing a locker number (digits only) selects that locker, as a tap on the map does. Esc clears the selection.

Signals:
    changed(): this page changed lockers or members; the tab refreshes every view.
    addMemberRequested(str): the scanned number is not on the roster and the desk wants to add it.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.lockers import AlreadyAssigned, LockerCounts, LockerError, LockerStatus, normalise_enrollment
from kiosk.ui.lockers.desk_staff import DeskStaff
from kiosk.ui.lockers.locker_map import LockerMap, describe_locker, due_words
from kiosk.ui.widgets.pin_dialog import ask_admin
from kiosk.ui.widgets.reason_dialog import ask_reason

CONFIRM_WINDOW_S = 30.0  # a second scan within this time releases the member's locker
REPEAT_S = 1.0  # the same card read again this soon is the reader repeating itself, not the desk asking again
BIG_NUMBER_PT = 84
IDLE_TEXT = "Scan a card or type an enrollment number, then Enter."
RECENT_KEPT = 8  # the desk's recent scans, newest first: three students in a row all see their lockers
HEADLINES = (  # the hub's reason -> what the big panel's headline says happened (else "Not done")
    ("not on the roster", "Not on the roster"),
    ("No locker is free", "No locker free"),
    ("is out of order", "Locker out of order"),
    ("is in use", "Locker in use"),
    ("There is no locker", "No such locker"),
    ("has no locker right now", "Has no locker"),
    ("is not in use", "Locker not in use"),
    ("could not do this", "The hub could not do this"),
    ("is busy", "Try again"),
)


def headline(reason: str) -> str:
    return next((words for part, words in HEADLINES if part in reason), "Not done")


def counts_text(counts: LockerCounts) -> str:
    overdue = f" ({counts.overdue} overdue)" if counts.overdue else ""
    return f"{counts.free} free  ·  {counts.in_use} in use{overdue}  ·  {counts.out_of_order} out of order"


class ScanField(QLineEdit):
    """The scan field: barcode and RFID readers type characters then Enter. Esc is passed to the page."""

    escapePressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clear()
            self.escapePressed.emit()
            return
        super().keyPressEvent(event)


class DeskPage(QWidget):
    changed = Signal()
    addMemberRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None, clock: Any = time.time) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.pin: Any = None
        self.dialog: QWidget | None = None
        self._clock = clock
        self._pending: tuple[str, float] | None = None  # (enrollment, when) awaiting a second scan to release
        self._unknown = ""
        self._last_scan: tuple[str, float] = ("", 0.0)
        self.staff = DeskStaff(self)  # who is at the desk (their name in the audit log), if anyone signed in
        self.scan = ScanField(self)
        self.scan.setObjectName("lockerScan")
        self.scan.setPlaceholderText("Scan or type a number")
        self.scan.setMaxLength(40)
        self.scan.setEnabled(False)
        self.scan.returnPressed.connect(self.scan_entered)
        self.scan.escapePressed.connect(self.clear_selection)

        self.result = QFrame(self)
        self.result.setObjectName("lockerResult")
        self.result_title = QLabel("Locker", self.result)
        self.result_title.setObjectName("lockerResultTitle")
        self.result_number = QLabel("–", self.result)
        self.result_number.setObjectName("lockerNumber")
        self.result_number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        big = self.result_number.font()  # set here, not only in the theme: the number is the answer
        big.setPointSize(BIG_NUMBER_PT)
        big.setBold(True)
        self.result_number.setFont(big)
        self.result_line = QLabel("", self.result)
        self.result_line.setObjectName("lockerResultLine")
        self.result_detail = QLabel(IDLE_TEXT, self.result)
        self.result_detail.setWordWrap(True)
        self.result_detail.setObjectName("lockerResultDetail")
        for label in (self.result_title, self.result_line, self.result_detail):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result_action = self._button("&Add this member…", self._add_unknown)
        self.result_action.hide()
        box = QVBoxLayout(self.result)
        for widget in (self.result_title, self.result_number, self.result_line, self.result_detail):
            box.addWidget(widget)
        box.addWidget(self.result_action)
        self._tone("idle")
        self._hint = QTimer(self)  # "scan again within 30 s" goes when the 30 s are over
        self._hint.setSingleShot(True)
        self._hint.setInterval(int(CONFIRM_WINDOW_S * 1000))
        self._hint.timeout.connect(self._hint_expired)
        self.recent_title = QLabel("Recent scans", self)
        self.recent_title.setObjectName("lockerListTitle")
        self.recent = QListWidget(self)  # newest first: who, which locker, what happened, when
        self.recent.setObjectName("lockerRecent")
        self.recent.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.recent.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.recent.setWordWrap(True)  # a long name wraps; the list never scrolls sideways
        self.recent.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent.setMinimumHeight(4 * self.recent.fontMetrics().lineSpacing() + 8)

        self.selection = QLabel("Tap a locker on the map to pick it or to see who has it.", self)
        self.selection.setObjectName("lockerSelection")
        self.selection.setWordWrap(True)
        self.release_button = self._button("&Release", self._release_selected)
        self.force_button = self._button("&Force release…", self._force_selected)
        self.order_button = self._button("&Out of order…", self._toggle_order)
        self.clear_button = self._button("Clear (Esc)", self.clear_selection)
        actions = QVBoxLayout()
        for button in (self.release_button, self.force_button, self.order_button, self.clear_button):
            actions.addWidget(button)
        left = QVBoxLayout()
        left.addWidget(self.staff)
        left.addWidget(self.scan)
        left.addWidget(self.result, 2)
        left.addWidget(self.selection)
        left.addLayout(actions)
        left.addWidget(self.recent_title)
        left.addWidget(self.recent, 1)
        left_widget = QWidget(self)
        left_widget.setLayout(left)
        left_widget.setFixedWidth(400)

        self.counts = QLabel("", self)
        self.counts.setObjectName("lockerCounts")
        self.map = LockerMap(self)
        self.map.lockerClicked.connect(self.select_locker)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(self.map)
        self.scroll = scroll
        right = QVBoxLayout()
        right.addWidget(self.counts)
        right.addWidget(scroll, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(left_widget)
        layout.addLayout(right, 1)
        self._show_selection()

    def _button(self, text: str, slot: Any) -> QPushButton:
        button = QPushButton(text, self)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the scan field keeps the focus; Alt+letter still works
        button.setMinimumHeight(48)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.clicked.connect(slot)
        return button

    def attach(self, operations: Any, pin: Any) -> None:
        self.ops, self.pin = operations, pin
        self.staff.attach(getattr(operations, "desk_signin", None))  # the hub's desk sign-in (not in the views' tests)
        self.scan.setEnabled(True)
        self.scan.setFocus()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.scan.setFocus()

    def set_board(self, states: list, counts: LockerCounts) -> None:
        self.map.set_board(states, self._clock())
        self.counts.setText(counts_text(counts))
        self._show_selection()

    # --- scanning -------------------------------------------------------------------------------------------------

    def scan_entered(self) -> None:
        text = self.scan.text().strip()
        self.scan.clear()
        if not text or self.ops is None:
            return
        self.staff.check()  # a sign-in that ran out is said before the scan goes as the front desk
        if text.isdigit():
            self.select_locker(int(text))
            return
        try:
            enrollment = normalise_enrollment(text)
        except LockerError as exc:
            self._show("error", "?", "", str(exc), title="Not an enrollment number")
            self._note(text[:20], "not an enrollment number")
            return
        last, self._last_scan = self._last_scan, (enrollment, self._clock())
        if last[0] == enrollment and self._clock() - last[1] < REPEAT_S:
            return  # a reader that reads one card twice must not turn "assign" into "already has one" into "release"
        pending = self._pending
        self._pending = None
        if pending and pending[0] == enrollment and self._clock() - pending[1] <= CONFIRM_WINDOW_S:
            self._release_member(enrollment)
            return
        self._assign(enrollment)

    def _assign(self, enrollment: str) -> None:
        picked = self.map.selected if self.map.status_of(self.map.selected or -1) is LockerStatus.FREE else None
        try:
            assignment = self.ops.assign(enrollment, picked)
        except AlreadyAssigned as exc:
            self._pending = (enrollment, self._clock())
            who = self._who(enrollment)
            self._show("warn", str(exc.locker), who,
                       f"Already has locker {exc.locker}. Scan the card again within {CONFIRM_WINDOW_S:.0f} s to "
                       "release it; Esc cancels.")
            self._hint.start()
            self._note(who, f"has locker {exc.locker}")
            return
        except LockerError as exc:
            unknown = "not on the roster" in str(exc)
            self._unknown = enrollment if unknown else ""
            self._show("error", "–", enrollment, str(exc), action=unknown)
            self._note(enrollment, headline(str(exc)).lower())
            return
        self.map.select(None)
        self.changed.emit()
        who = self._who(enrollment)
        due = due_words(assignment.due_at, self._clock())
        self._show("ok", str(assignment.locker), who, f"Locker {assignment.locker} assigned, due back {due}.")
        self._note(who, f"locker {assignment.locker} assigned, due {due}")

    def _release_member(self, enrollment: str) -> None:
        try:
            released = self.ops.exit(enrollment)
        except LockerError as exc:
            self._show("error", "–", enrollment, str(exc))
            return
        self.changed.emit()
        who = self._who(enrollment)
        self._show_released(released, who)
        self._note(who, f"locker {released.locker} released")

    def _show_released(self, released: Any, who: str, forced: str = "") -> None:
        from kiosk.core.lockers import describe_duration

        held = describe_duration((released.released_at or self._clock()) - released.assigned_at)
        if forced:
            self._show("released", str(released.locker), who, f"Locker {released.locker} was force released and "
                       f"is free again (held {held}). Reason, in the audit log: {forced}",
                       title="Force release done")
            return
        self._show("released", str(released.locker), who, f"Locker {released.locker} is free again (held {held}).")

    def _hint_expired(self) -> None:
        """The 30 s to release by a second scan are over: the panel stops offering it."""
        pending, self._pending = self._pending, None
        if pending is not None and self.result.property("tone") == "warn":
            number = self.result_number.text()
            self.result_detail.setText(f"Has locker {number}. To release it, scan the card twice.")

    def _note(self, who: str, what: str) -> None:
        """An entry in the recent scans: "14:02 · locker 3 assigned, due by 18:02" over "Rahul Sharma · CS2021001"."""
        self.staff.check()  # the hub may have ended the sign-in: this change went as the front desk
        at = time.strftime("%H:%M", time.localtime(self._clock()))
        self.recent.insertItem(0, QListWidgetItem(f"{at} · {what}\n{who}"))
        while self.recent.count() > RECENT_KEPT:
            self.recent.takeItem(self.recent.count() - 1)

    def _who(self, enrollment: str) -> str:
        member = self.ops.member(enrollment)
        return f"{member.name} · {enrollment}" if member else enrollment

    def _show(self, tone: str, number: str, line: str, detail: str, action: bool = False, title: str = "") -> None:
        if tone != "warn":
            self._hint.stop()
        self.result_title.setText(title or {"ok": "Locker assigned", "released": "Locker released",
                                            "warn": "Has a locker", "error": headline(detail)}.get(tone, "Locker"))
        self.result_number.setText(number)
        self.result_line.setText(line)
        self.result_detail.setText(detail)
        self.result_action.setVisible(action)
        if action:
            self.result_action.setText(f"&Add {self._unknown} to the roster…")
        self._tone(tone)

    def _tone(self, tone: str) -> None:
        if self.result.property("tone") == tone:
            return
        self.result.setProperty("tone", tone)
        self.result.style().unpolish(self.result)
        self.result.style().polish(self.result)
        for child in self.result.findChildren(QLabel):
            child.style().unpolish(child)
            child.style().polish(child)

    def _add_unknown(self) -> None:
        if self._unknown:
            self.addMemberRequested.emit(self._unknown)

    def member_added(self, enrollment: str) -> None:
        """The member was just added from the desk: give them a locker straight away."""
        self.result_action.hide()
        self._assign(enrollment)

    # --- the selected locker --------------------------------------------------------------------------------------

    def select_locker(self, number: int) -> None:
        state = self.map.state_of(number)
        if state is None:
            self._show("error", str(number), "", f"There is no locker {number} on the map.")
            return
        self.map.select(number)
        self._pending = None
        self._show_selection()
        self._show_locker(number, state)
        self.scan.setFocus()

    def _show_locker(self, number: int, state: Any) -> None:
        """A tapped (or typed) locker in the big panel: who has it, since when, until when."""
        status = self.map.status_of(number)
        if status is LockerStatus.FREE:
            self._show("idle", str(number), "Free", "The next scan gets this locker; Esc cancels.",
                       title=f"Locker {number} ({state.bank})")
        elif status is LockerStatus.OUT_OF_ORDER:
            self._show("idle", str(number), "Out of order", state.note or "No note was given.",
                       title=f"Locker {number} ({state.bank})")
        else:
            from kiosk.core.lockers import describe_duration

            now = self._clock()
            late = status is LockerStatus.OVERDUE
            self._show("warn" if late else "idle", str(number), f"{state.name} · {state.member}",
                       f"Has it since {time.strftime('%H:%M', time.localtime(state.assigned_at))} "
                       f"({describe_duration(now - state.assigned_at)}); "
                       + (f"OVERDUE: was due back {due_words(state.due_at, now)}." if late else
                          f"due back {due_words(state.due_at, now)}."),
                       title=f"Locker {number} ({state.bank})" + (": overdue" if late else ""))

    def clear_selection(self) -> None:
        self.map.select(None)
        self._pending = None
        self._show_selection()
        self._show("idle", "–", "", IDLE_TEXT)

    def _show_selection(self) -> None:
        number = self.map.selected
        state = self.map.state_of(number) if number is not None else None
        status = self.map.status_of(number) if number is not None else None
        if state is None or status is None:
            self.map.select(None)
            self.selection.setText("Tap a locker on the map (or type its number) to pick it or to see who has it.")
            for button in (self.release_button, self.force_button, self.order_button, self.clear_button):
                button.setVisible(False)
            return
        text = describe_locker(state, status, self._clock())
        if status is LockerStatus.FREE:
            text += ". The next scan gets this locker."
        self.selection.setText(text)
        in_use = status in (LockerStatus.IN_USE, LockerStatus.OVERDUE)
        self.release_button.setVisible(in_use)
        self.force_button.setVisible(in_use)
        self.order_button.setVisible(not in_use)
        self.order_button.setText("Back in &service…" if status is LockerStatus.OUT_OF_ORDER else "&Out of order…")
        self.clear_button.setVisible(True)

    def _release_selected(self) -> None:
        number = self.map.selected
        state = self.map.state_of(number) if number is not None else None
        if state is None or state.member is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Release locker",
                          f"Release locker {number} held by {state.name} ({state.member})?\n\nDo this when the key is "
                          "back at the desk.", QMessageBox.StandardButton.Cancel, self)
        yes = box.addButton(f"Release {number}", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(yes)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self._do_release(number, state))
        self._open(box)

    def _do_release(self, number: int, state: Any) -> None:
        try:
            released = self.ops.release_locker(number)
        except LockerError as exc:
            self._show("error", str(number), "", str(exc))
            return
        self.changed.emit()
        self._show_released(released, f"{state.name} · {state.member}")

    def _force_selected(self) -> None:
        number = self.map.selected
        state = self.map.state_of(number) if number is not None else None
        if state is None or state.member is None:
            return

        def reason() -> None:
            self._open(ask_reason(self, "Force release", f"Force locker {number} free? {state.name} "
                                  f"({state.member}) has not handed the key back. Why?", f"Force release {number}",
                                  lambda why: self._do_force(number, why, state)))

        self._open(ask_admin(self.pin, f"force locker {number} free", self, reason))

    def _do_force(self, number: int, reason: str, state: Any) -> None:
        try:
            released = self.ops.force_exit(number, reason)
        except (LockerError, PermissionError) as exc:
            self._show("error", str(number), "", str(exc))
            return
        self.changed.emit()
        who = f"{state.name} · {state.member}"
        self._show_released(released, who, forced=reason)
        self._note(who, f"locker {number} force released")

    def _toggle_order(self) -> None:
        number = self.map.selected
        if number is None:
            return
        out = self.map.status_of(number) is not LockerStatus.OUT_OF_ORDER

        def note() -> None:
            if out:
                self._open(ask_reason(self, "Out of order", f"Mark locker {number} out of order? It will not be "
                                      "given to anyone until it is back in service. What is wrong?",
                                      f"Out of order {number}", lambda why: self._do_order(number, True, why)))
            else:
                self._do_order(number, False, "")

        what = f"mark locker {number} out of order" if out else f"put locker {number} back in service"
        self._open(ask_admin(self.pin, what, self, note))

    def _do_order(self, number: int, out: bool, note: str) -> None:
        try:
            self.ops.set_out_of_order(number, out, note)
        except (LockerError, PermissionError) as exc:
            self._show("error", str(number), "", str(exc))
            return
        self.changed.emit()
        self._show("idle", str(number), "Out of order" if out else "Back in service", note or "")

    def _open(self, dialog: QWidget | None) -> QWidget | None:
        """Dialogs hand the focus back to the scan field when they close (None: the admin gate let the action go
        ahead without a dialog; it opens its own)."""
        if dialog is None:
            return None
        self.dialog = dialog
        dialog.finished.connect(lambda *_: self.scan.setFocus())  # type: ignore[attr-defined]
        if not dialog.isVisible():
            dialog.open()  # type: ignore[attr-defined]
        return dialog
