"""Edit restrooms, their stalls, and which sensor watches which stall (admin, behind the PIN).

Every change goes through the Stalls operations (kiosk.client.stalls.RemoteStalls: audited, republished to
displays); a refused change shows its reason in words and changes nothing.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.stalls import LEGACY_TYPES, SensorRole, StallsError
from kiosk.ui.stalls.wifi_reset import confirm_wifi_reset, send_wifi_reset

ROOM, STALL = 1, 2
ROLE_WORDS = {SensorRole.DOOR: "door sensor", SensorRole.THERMAL: "thermal sensor",
              SensorRole.COMBINED: "combined sensor"}


def sensor_type(model: str | None, kind: str) -> str:
    role = LEGACY_TYPES.get(model or "")
    if role is not None:
        return f"StallSense {role.value}"
    return "StallSense, type not reported yet" if kind == "stallsense" else kind


class RestroomEditor(QDialog):
    def __init__(self, operations: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = operations
        self.setWindowTitle("Edit restrooms, stalls and sensors")
        self.resize(1000, 620)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Restroom / stall", "Sensors"])
        self.tree.setColumnWidth(0, 260)
        self.sensors = QTreeWidget(self)
        self.sensors.setHeaderLabels(["Sensor", "Type", "IP", "Watches"])
        self.sensors.setRootIsDecorated(False)
        for column, width in enumerate((150, 150, 100)):
            self.sensors.setColumnWidth(column, width)
        self.sensors.currentItemChanged.connect(self._sensor_chosen)
        self.room_name, self.room_floor, self.stall_label = QLineEdit(self), QLineEdit(self), QLineEdit(self)
        self.room_name.setPlaceholderText("restroom name, e.g. West wing")
        self.room_floor.setPlaceholderText("floor, e.g. G")
        self.stall_label.setPlaceholderText("stall label, e.g. 3")
        self.role = QComboBox(self)
        for role, words in ROLE_WORDS.items():
            self.role.addItem(words, role.value)  # Qt would turn the str enum into a plain str anyway
        self.error = QLabel("", self)
        self.error.setObjectName("editError")
        self.error.setWordWrap(True)
        self._layout()
        self.refresh()

    def _button(self, text: str, slot) -> QPushButton:  # type: ignore[no-untyped-def]
        button = QPushButton(text, self)
        button.clicked.connect(slot)
        return button

    def _layout(self) -> None:
        add_room = QHBoxLayout()
        for widget in (self.room_name, self.room_floor, self._button("Add restroom", self._add_room)):
            add_room.addWidget(widget)
        add_stall = QHBoxLayout()
        for widget in (self.stall_label, self._button("Add stall to selected restroom", self._add_stall)):
            add_stall.addWidget(widget)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Restrooms and stalls</b>", self))
        left.addWidget(self.tree, 1)
        left.addLayout(add_room)
        left.addLayout(add_stall)
        left.addWidget(self._button("Save name and floor of selected restroom", self._rename))
        left.addWidget(self._button("Remove selected…", self._remove))
        assign = QHBoxLayout()
        assign.addWidget(QLabel("as", self))
        assign.addWidget(self.role, 1)
        assign.addWidget(self._button("Assign to selected stall", self._assign))
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>Sensors</b> (those not watching a stall are listed first)", self))
        right.addWidget(self.sensors, 1)
        right.addLayout(assign)
        right.addWidget(self._button("Unassign selected sensor", self._unassign))
        right.addWidget(self._button("Reset Wi-Fi of selected StallSense board…", self._reset))
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.error)
        layout.addWidget(self._button("Close", self.accept), 0, Qt.AlignmentFlag.AlignRight)

    def refresh(self) -> None:
        selected = self._selected(self.tree)
        self.tree.clear()
        names: dict[int, str] = {}
        for room in self.ops.restrooms():
            item = QTreeWidgetItem([room.name + (f"  ·  floor {room.floor}" if room.floor else ""),
                                    f"{len(room.stalls)} stall" + ("" if len(room.stalls) == 1 else "s")])
            item.setData(0, Qt.ItemDataRole.UserRole, (ROOM, room.id))
            self.tree.addTopLevelItem(item)
            for stall in room.stalls:
                names[stall.id] = f"{room.name} / {stall.label}"
                sensors = ", ".join(f"{s.name} ({s.role.value})" for s in stall.sensors if s.role) or "none"
                child = QTreeWidgetItem([f"Stall {stall.label}", sensors])
                child.setData(0, Qt.ItemDataRole.UserRole, (STALL, stall.id))
                item.addChild(child)
            item.setExpanded(True)
        self._reselect(self.tree, selected)
        chosen = self._selected(self.sensors)
        self.sensors.clear()
        for sensor in sorted(self.ops.sensors(), key=lambda s: (s.stall_id is not None, s.name)):
            watches = names.get(sensor.stall_id or -1, "— pending —")
            if sensor.revoked:
                watches = "revoked"
            row = QTreeWidgetItem([sensor.name, sensor_type(sensor.model, sensor.kind), sensor.ip or "", watches])
            row.setData(0, Qt.ItemDataRole.UserRole, sensor.device_id)
            self.sensors.addTopLevelItem(row)
        self._reselect(self.sensors, chosen)

    @staticmethod
    def _selected(tree: QTreeWidget) -> object:
        item = tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    @staticmethod
    def _reselect(tree: QTreeWidget, key: object) -> None:
        if key is None:
            return
        for item in tree.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive):
            if item.data(0, Qt.ItemDataRole.UserRole) == key:
                tree.setCurrentItem(item)
                return

    def _run(self, action, done: str, select: str | None = None) -> bool:  # type: ignore[no-untyped-def]
        """Runs `action`; what it made (its id, when `select` says ROOM or STALL) is selected afterwards, so the
        next "Add stall" goes to the restroom just added."""
        try:
            made = action()
        except StallsError as exc:
            self.error.setText(str(exc))
            return False
        self.error.setText(done)
        self.refresh()
        if select is not None and isinstance(made, int):
            self._reselect(self.tree, (select, made))
        return True

    def _add_room(self) -> None:
        name, floor = self.room_name.text(), self.room_floor.text()
        if self._run(lambda: self.ops.add_restroom(name, floor), f"Added {name.strip()}.", select=ROOM):
            self.room_name.clear()
            self.room_floor.clear()

    def _sensor_chosen(self) -> None:
        """A StallSense board's type decides its role; preselect it."""
        item = self.sensors.currentItem()
        if item is None:
            return
        for role in (SensorRole.DOOR, SensorRole.THERMAL):
            if item.text(1) == f"StallSense {role.value}":
                self.role.setCurrentIndex(self.role.findData(role.value))

    def _room_of_selection(self) -> int | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        kind, key = item.data(0, Qt.ItemDataRole.UserRole)
        if kind == ROOM:
            return key
        return item.parent().data(0, Qt.ItemDataRole.UserRole)[1]

    def _add_stall(self) -> None:
        room = self._room_of_selection()
        if room is None:
            self.error.setText("Select a restroom first.")
            return
        label = self.stall_label.text()
        if self._run(lambda: self.ops.add_stall(room, label), f"Added stall {label.strip()}.", select=STALL):
            self.stall_label.clear()

    def _remove(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            self.error.setText("Select a restroom or a stall to remove.")
            return
        kind, key = item.data(0, Qt.ItemDataRole.UserRole)
        what = item.text(0)
        box = QMessageBox(QMessageBox.Icon.Question, "Remove", f"Remove {what}? Its sensors become pending again; "
                          "the history of its stalls is kept.", QMessageBox.StandardButton.Yes
                          | QMessageBox.StandardButton.Cancel, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        action = self.ops.remove_restroom if kind == ROOM else self.ops.remove_stall
        box.accepted.connect(lambda: self._run(lambda: action(key), f"Removed {what}."))
        box.open()

    def _rename(self) -> None:
        room = self._room_of_selection()
        if room is None:
            self.error.setText("Select a restroom, type its new name and floor above, then save.")
            return
        name, floor = self.room_name.text(), self.room_floor.text()
        if self._run(lambda: self.ops.edit_restroom(room, name, floor), f"Saved {name.strip()}."):
            self.room_name.clear()
            self.room_floor.clear()

    def _reset(self) -> None:
        item = self.sensors.currentItem()
        if item is None or not str(item.data(0, Qt.ItemDataRole.UserRole)).startswith("stallsense:"):
            self.error.setText("Select a StallSense board in the sensor list.")
            return
        device_id, name = item.data(0, Qt.ItemDataRole.UserRole), item.text(0)
        confirm_wifi_reset(self, name, lambda: self.reset(device_id, name))

    def reset(self, device_id: str, name: str) -> None:
        self.error.setText(send_wifi_reset(self.ops, device_id, name))

    def _assign(self) -> None:
        device_id = self._selected(self.sensors)
        item = self.tree.currentItem()
        if device_id is None or item is None or item.data(0, Qt.ItemDataRole.UserRole)[0] != STALL:
            self.error.setText("Select a sensor on the right and a stall on the left.")
            return
        stall_id = item.data(0, Qt.ItemDataRole.UserRole)[1]
        role = SensorRole(self.role.currentData())
        self._run(lambda: self.ops.assign(device_id, stall_id, role), "Assigned.")

    def _unassign(self) -> None:
        device_id = self._selected(self.sensors)
        if device_id is None:
            self.error.setText("Select a sensor to unassign.")
            return
        self._run(lambda: self.ops.unassign(device_id), "Unassigned: the sensor is pending again.")
