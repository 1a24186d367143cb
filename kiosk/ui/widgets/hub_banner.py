"""The red line across the top of a screen while its hub cannot be reached: staff must not miss it, and must not
take what the screen shows for current. Optionally one button beside the words (the desk's *Start the hub*)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class HubBanner(QWidget):
    def __init__(self, parent: QWidget | None = None, action: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("hubBanner")
        self.setStyleSheet("#hubBanner { background: #b3261e; }")
        self.label = QLabel("", self)
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: white; font-size: 18px; font-weight: bold; padding: 10px")
        self.button = QPushButton(action, self)
        self.button.setMinimumHeight(44)
        self.button.hide()
        self.action = action
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 10, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.hide()

    def say(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text()

    def busy(self, text: str) -> None:
        """The button's work is under way: the button says so and waits."""
        self.button.setEnabled(False)
        self.button.setText(text)

    def ready(self) -> None:
        self.button.setEnabled(True)
        self.button.setText(self.action)


def over(banner: HubBanner, content: QWidget, parent: QWidget) -> QWidget:
    """A window's central widget: the banner above its content (the tabs), with no margins."""
    central = QWidget(parent)
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(banner)
    layout.addWidget(content, 1)
    return central
