"""The Stalls tab: every restroom with its stalls as tiles, live; counts per restroom and in total.

Tiles are updated in place from the bridge's `stallsChanged` batches (one repaint per changed tile); the sections are
rebuilt only when the layout itself changed (a stall added, removed, renamed or moved). A one-second timer refreshes
the "updated N s ago" lines while the tab is visible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.stalls import StallState
from kiosk.ui.widgets.flow_layout import FlowLayout
from kiosk.ui.widgets.stall_tile import STYLES, StallTile

EMPTY_TEXT = """<h2>No restrooms yet</h2>
<p>Add a restroom and its stalls with <b>Edit restrooms</b>, then give each stall its sensor:
a door sensor, a thermal sensor, or both.</p>
<p><b>Sensors registered</b> on Admin &gt; Devices (<b>Add device…</b>, kind stall sensor) and <b>legacy StallSense
boards</b> appear in the edit dialog as soon as they report. StallSense boards log in without a token, so they are
accepted only when the hub runs in legacy StallSense mode: start it with <code>--legacy-stallsense</code>, or set
<code>stalls.legacy_stallsense = true</code> in its configuration.</p>
<p>The demo devices (Admin &gt; Devices, <b>Start demo devices</b>) come with a demo restroom.</p>
"""


def counts_text(states: Counter[StallState]) -> str:
    parts = [f"{STYLES[s].word.capitalize()} {states.get(s, 0)}" for s in
             (StallState.VACANT, StallState.OCCUPIED, StallState.NO_SIGNAL, StallState.ATTENTION)
             if states.get(s, 0) or s in (StallState.VACANT, StallState.OCCUPIED)]
    return "  ·  ".join(parts)


class RestroomSection(QFrame):
    def __init__(self, restroom_id: int, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.restroom_id = restroom_id
        self.setObjectName("restroomSection")
        self.title = QLabel(title, self)
        self.title.setObjectName("restroomTitle")
        self.counts = QLabel(self)
        self.counts.setObjectName("restroomCounts")
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.counts)
        self.tiles = FlowLayout(spacing=10)
        column = QVBoxLayout(self)
        column.addLayout(header)
        column.addLayout(self.tiles)


class StallsView(QWidget):
    """Signals:
        stallClicked(int): the stall id whose tile was clicked or activated with the keyboard.
        editRequested(): the user asked to edit restrooms, stalls and sensor assignment.
        analyticsRequested(): the user asked for the occupancy figures.

    Once `attach` gives it the hub's operations and the admin PIN, the view opens the detail, edit (behind the PIN)
    and figures dialogs itself.
    """

    stallClicked = Signal(int)
    editRequested = Signal()
    analyticsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles: dict[int, StallTile] = {}
        self.places: dict[int, Any] = {}
        self.views: dict[int, Any] = {}
        self._stalls_of: dict[int, list[int]] = {}  # restroom -> its stalls, as laid out
        self._room_states: dict[int, Counter[StallState]] = {}  # restroom -> how many stalls show each state
        self._sections: dict[int, RestroomSection] = {}
        self.ops: Any = None
        self.pin: Any = None
        self.dialog: QWidget | None = None  # the dialog open now (tests and screenshots look at it)
        # Set by the composition root: returns (operations, admin PIN) once the hub runs.
        self.provider: Callable[[], tuple[Any, Any] | None] = lambda: None
        self.summary = QLabel("Waiting for the hub…", self)
        self.summary.setObjectName("stallSummary")
        self.edit_button = QPushButton("Edit restrooms…", self)
        self.edit_button.clicked.connect(self.editRequested)
        self.analytics_button = QPushButton("Occupancy figures…", self)
        self.analytics_button.clicked.connect(self.analyticsRequested)
        for button in (self.edit_button, self.analytics_button):
            button.setEnabled(False)
            button.setToolTip("Available once the hub's services are running")
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.analytics_button)
        top.addWidget(self.edit_button)
        self._body = QWidget(self)
        self._body_layout = QVBoxLayout(self._body)
        self._body_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._body)
        empty = QLabel(EMPTY_TEXT, self)
        empty.setWordWrap(True)
        empty.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        empty.setMaximumWidth(700)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(empty)
        self._stack.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self._stack, 1)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()

    def services_ready(self) -> None:
        """Connected to the bridge's servicesReady: runs on the GUI thread (this is a QObject's slot)."""
        services = self.provider()
        if services is not None:
            self.attach(*services)

    def attach(self, operations: Any, pin: Any) -> None:
        """The hub's services are running: enable editing, details and figures."""
        self.ops, self.pin = operations, pin
        for button in (self.edit_button, self.analytics_button):
            button.setEnabled(True)
            button.setToolTip("")
        self.stallClicked.connect(self.open_detail)
        self.editRequested.connect(self._ask_to_edit)
        self.analyticsRequested.connect(self.open_analytics)

    # The dialogs load when first opened: the window paints sooner without them (bench/startup.py).

    def _ask_to_edit(self) -> None:
        from kiosk.ui.widgets.pin_dialog import ask_admin

        ask_admin(self.pin, "edit restrooms, stalls and sensors", self, self.open_editor)

    def open_editor(self) -> None:
        from kiosk.ui.stalls.restroom_editor import RestroomEditor

        self._show(RestroomEditor(self.ops, self))

    def open_detail(self, stall_id: int) -> None:
        from kiosk.ui.stalls.stall_detail import StallDetail

        if self.ops is not None and stall_id in self.places:
            self._show(StallDetail(self.ops, self.pin, self.places[stall_id], self.views[stall_id], self))

    def open_analytics(self) -> None:
        from kiosk.ui.stalls.stall_analytics_view import StallAnalytics

        self._show(StallAnalytics(self.ops, dict(self.places), self))

    def _show(self, dialog: QWidget) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()  # type: ignore[attr-defined]

    def update_stalls(self, pairs: list[tuple[Any, Any]], complete: bool) -> None:
        """A batch from the bridge: (StallPlace, StallView) pairs; `complete` means these are all the stalls."""
        if complete:
            gone = set(self.places) - {place.stall_id for place, _ in pairs}
            for stall_id in gone:
                self.places.pop(stall_id, None)
                self.views.pop(stall_id, None)
        relayout = complete
        for place, view in pairs:
            if self.places.get(place.stall_id) != place:
                relayout = True
            self.places[place.stall_id] = place
            self.views[place.stall_id] = view
        if relayout:
            self._rebuild()
            self._update_counts()
        rooms: set[int] = set()
        for place, view in pairs:
            self.tiles[place.stall_id].show_state(view.state, view.reason, view.updated_at)
            rooms.add(place.restroom_id)
        if not relayout:
            self._update_counts(rooms)

    def _rebuild(self) -> None:
        for section in self._sections.values():
            section.setParent(None)
            section.deleteLater()
        self._sections, self.tiles, self._stalls_of = {}, {}, {}
        ordered = sorted(self.places.values(), key=lambda p: (p.restroom_position, p.restroom_id, p.position,
                                                               p.stall_id))
        for place in ordered:
            section = self._sections.get(place.restroom_id)
            if section is None:
                title = place.restroom + (f"  ·  floor {place.floor}" if place.floor else "")
                section = RestroomSection(place.restroom_id, title, self._body)
                self._body_layout.insertWidget(self._body_layout.count() - 1, section)
                self._sections[place.restroom_id] = section
            tile = StallTile(place.stall_id, place.label, parent=section)
            tile.clicked.connect(self.stallClicked)
            view = self.views.get(place.stall_id)
            if view is not None:
                tile.show_state(view.state, view.reason, view.updated_at)
            section.tiles.addWidget(tile)
            self.tiles[place.stall_id] = tile
            self._stalls_of.setdefault(place.restroom_id, []).append(place.stall_id)
        self._stack.setCurrentIndex(1 if self.places else 0)

    def _update_counts(self, rooms: set[int] | None = None) -> None:
        """The counts of these restrooms (all of them when None) and the summary. A burst of changes touches a few
        restrooms: counting all 500 stalls for each one took most of the GUI thread's time in bench/stalls.py."""
        wanted = set(self._sections) if rooms is None else rooms & set(self._sections)
        if rooms is None:
            self._room_states = {}
        for restroom_id in wanted:
            self._room_states[restroom_id] = Counter()
        for stall_id, place in (self.places.items() if rooms is None else
                                ((i, self.places[i]) for r in wanted for i in self._stalls_of.get(r, ()))):
            view = self.views.get(stall_id)
            if view is not None and place.restroom_id in wanted:
                self._room_states[place.restroom_id][view.state] += 1
        for restroom_id in wanted:
            states = self._room_states[restroom_id]
            section = self._sections[restroom_id]
            section.counts.setText(f"{states.get(StallState.VACANT, 0)} of {sum(states.values())} free")
            section.counts.setToolTip(counts_text(states))
        total: Counter[StallState] = Counter()
        for states in self._room_states.values():
            total.update(states)
        self.summary.setText(counts_text(total) if self.places else "No restrooms yet")

    def _tick(self) -> None:
        if self.isVisible():
            for tile in self.tiles.values():
                tile.update()
