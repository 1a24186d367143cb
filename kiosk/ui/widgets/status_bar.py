"""Status bar: broker up/down, clients connected, messages per second, database path."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget


class KioskStatusBar(QStatusBar):
    def __init__(self, database: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.broker = QLabel("Broker: starting…", self)
        self.clients = QLabel("Clients: —", self)
        self.rate = QLabel("0.0 msg/s", self)
        self.database = QLabel(f"Database: {database}", self)
        self.database.setToolTip(database)
        for label in (self.broker, self.clients, self.rate, self.database):
            label.setContentsMargins(8, 2, 16, 2)
        for label in (self.broker, self.clients, self.rate):
            self.addWidget(label)
        self.addPermanentWidget(self.database)

    def show_status(self, status: Any) -> None:
        broker = status.broker
        if not status.broker_embedded:
            state = "external, " + ("connected" if status.link_connected else f"not reachable ({status.link_detail})")
        elif broker is not None and broker.running and not broker.responding:
            state = f"NOT RESPONDING (no report for {broker.silent_s:.0f} s; devices cannot send)"
        elif broker is not None and broker.running:
            state = "up" if status.link_connected else f"up, hub link down ({status.link_detail})"
            if broker.memory_bytes:
                state += f" · {broker.memory_bytes / 1e6:.0f} MB"
        else:
            state = "DOWN"
        self.broker.setText(f"Broker: {state}")
        self.clients.setText(f"Clients: {broker.connected}" if broker and broker.responding else "Clients: —")
        if broker is not None:
            self.rate.setText(f"{status.broker_in_per_s:.1f} msg/s in · {status.broker_out_per_s:.1f} out")
            self.rate.setToolTip(f"Broker: {broker.sessions} sessions, {broker.retained} retained messages, "
                                 f"refused logins: {broker.refused_logins or 'none'}. "
                                 f"Device readings accepted: {status.ingest.per_second:.1f}/s")
        else:
            self.rate.setText(f"{status.ingest.per_second:.1f} msg/s")
        db = f"Database: {status.database}"
        if not status.database_ok:
            db += f" — NOT WRITING, {status.backlog:,} readings waiting: {status.database_error}"
        self.database.setText(db)

    def show_unreachable(self) -> None:
        """The hub cannot be reached: nothing it said last is shown as current."""
        self.broker.setText("Hub: not reachable")
        self.clients.setText("Clients: —")
        self.rate.setText("— msg/s")

    def show_failure(self, reason: str) -> None:
        self.broker.setText(f"Services failed to start: {reason}")
