"""One stall as a tile: colour **and** icon **and** word, so that no one depends on colour alone.

The same painter serves the front-desk tab (small tiles, clickable) and the wall display (large type, readable from
5 m). Colours are chosen for at least 4.5:1 text contrast (WCAG AA); `contrast_ratio` checks it in the tests.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.core.stalls import StallState


@dataclass(frozen=True)
class TileStyle:
    word: str
    background: str
    text: str


STYLES = {
    StallState.VACANT: TileStyle("FREE", "#1b5e20", "#ffffff"),
    StallState.OCCUPIED: TileStyle("IN USE", "#b71c1c", "#ffffff"),
    StallState.NO_SIGNAL: TileStyle("NO SIGNAL", "#455a64", "#ffffff"),
    StallState.ATTENTION: TileStyle("CHECK", "#ffb300", "#000000"),
}
UNKNOWN = TileStyle("WAITING", "#455a64", "#ffffff")  # the display before the hub has said anything
STALE_BACKGROUND, STALE_TEXT = "#2b3238", "#b0bec5"  # the wall display's last known state, hub unreachable


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _scaled(hex_colour: str, factor: float) -> str:
    return "#" + "".join(f"{min(255, round(int(hex_colour[i:i + 2], 16) * factor)):02x}" for i in (1, 3, 5))


def dimmed(style: TileStyle, brightness: float) -> TileStyle:
    """`style` for a display dimmed to `brightness` (0..1): the background darkened by that much, and the text the
    dimmest grey that still keeps WCAG AA contrast (4.5:1) on it, or black where black reads better (night dimming
    must not turn the words into mid-grey on black)."""
    if brightness >= 1:
        return style
    background = _scaled(style.background, brightness)
    if style.text == "#000000" and contrast_ratio("#000000", background) >= 4.5:
        return TileStyle(style.word, background, "#000000")
    level = max(brightness, 0.5)
    while level < 1 and contrast_ratio(_scaled("#ffffff", level), background) < 4.5:
        level = min(1.0, level + 0.02)
    text = _scaled("#ffffff", level)
    if contrast_ratio(text, background) < 4.5:
        text = "#000000"
    return TileStyle(style.word, background, text)


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "never heard from"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def short_form(line: str) -> str:
    """A detail line for a narrow tile: "last heard 5 min ago" -> "5 min ago", "updated 3 s ago" -> "3 s ago"."""
    for lead in ("last heard ", "updated ", "last known, "):
        if line.startswith(lead):
            return line[len(lead):]
    return line


def paint_icon(painter: QPainter, state: StallState | None, box: QRectF, colour: QColor) -> None:
    """A simple shape per state, drawn (not a font glyph) so that every machine shows the same thing."""
    pen = QPen(colour, max(2.0, box.width() * 0.11), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    x, y, w, h = box.x(), box.y(), box.width(), box.height()
    if state is StallState.VACANT:
        path = QPainterPath(QPointF(x + 0.12 * w, y + 0.55 * h))
        path.lineTo(QPointF(x + 0.40 * w, y + 0.82 * h))
        path.lineTo(QPointF(x + 0.90 * w, y + 0.20 * h))
        painter.drawPath(path)
    elif state is StallState.OCCUPIED:
        painter.drawEllipse(box.adjusted(w * 0.08, h * 0.08, -w * 0.08, -h * 0.08))
        painter.drawLine(QPointF(x + 0.28 * w, y + 0.5 * h), QPointF(x + 0.72 * w, y + 0.5 * h))
    elif state is StallState.ATTENTION:
        path = QPainterPath(QPointF(x + 0.5 * w, y + 0.08 * h))
        path.lineTo(QPointF(x + 0.95 * w, y + 0.9 * h))
        path.lineTo(QPointF(x + 0.05 * w, y + 0.9 * h))
        path.closeSubpath()
        painter.drawPath(path)
        painter.drawLine(QPointF(x + 0.5 * w, y + 0.38 * h), QPointF(x + 0.5 * w, y + 0.6 * h))
        painter.drawPoint(QPointF(x + 0.5 * w, y + 0.76 * h))
    else:  # no signal: a signal fan with a slash through it
        for k in (0.25, 0.5, 0.75):
            arc = QRectF(x + w * (0.5 - k / 1.5), y + h * (0.85 - k / 1.5), w * k / 0.75, h * k / 0.75)
            painter.drawArc(arc, 45 * 16, 90 * 16)
        painter.drawLine(QPointF(x + 0.12 * w, y + 0.12 * h), QPointF(x + 0.88 * w, y + 0.88 * h))


_FITTED: dict[tuple[str, str, int, int], int] = {}
_FACES: dict[tuple, QPixmap] = {}  # tile faces by size, state, label...: a few per stall at most
MAX_FACES = 4000


def fitting_size(font: QFont, text: str, wanted_px: int, width: float) -> int:
    """The largest pixel size up to `wanted_px` at which `text` fits in `width` (never below 10 px); cached, as
    every tile repaints once a second."""
    key = (font.family(), text, wanted_px, int(width))
    if key not in _FITTED:
        _FITTED[key] = _fit(font, text, wanted_px, width)
    return _FITTED[key]


def _fit(font: QFont, text: str, wanted_px: int, width: float) -> int:
    probe = QFont(font)
    size = max(10, wanted_px)
    while size > 10:
        probe.setPixelSize(size)
        if QFontMetrics(probe).horizontalAdvance(text) <= width:
            break
        size -= 1
    return size


class StallTile(QWidget):
    """Signals:
        clicked(int): the stall id, when the tile is clicked or tapped (front desk only).
    """

    clicked = Signal(int)

    def __init__(self, stall_id: int, label: str, large: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stall_id = stall_id
        self.label = label
        self.large = large
        self.state: StallState | None = None
        self.reason = ""
        self.updated_at: float | None = None
        self.stale = False  # the wall display greys tiles out when the hub is unreachable
        self.brightness = 1.0  # the wall display's night dimming (kiosk.ui.display)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.ArrowCursor if large else Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus if large else Qt.FocusPolicy.StrongFocus)

    def sizeHint(self) -> QSize:
        return QSize(360, 240) if self.large else QSize(170, 118)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 140) if self.large else QSize(150, 104)

    def show_state(self, state: StallState, reason: str, updated_at: float | None, label: str | None = None) -> None:
        if label is not None:
            self.label = label
        self.state, self.reason, self.updated_at = state, reason, updated_at
        self.setAccessibleName(f"Stall {self.label}: {self.style_for().word.lower()}")
        self.update()

    def style_for(self) -> TileStyle:
        if self.state is None:
            style = UNKNOWN
        elif self.stale:  # the last known word, greyed: clearly not current
            style = TileStyle(STYLES[self.state].word, STALE_BACKGROUND, STALE_TEXT)
        else:
            style = STYLES[self.state]
        return dimmed(style, self.brightness)

    def detail_line(self, now: float) -> str:
        if self.stale:
            return "last known, " + ago(None if self.updated_at is None else now - self.updated_at)
        if self.state is StallState.ATTENTION:
            return self.reason
        age = None if self.updated_at is None else now - self.updated_at
        if self.state is StallState.NO_SIGNAL:
            return "last heard " + ago(age) if age is not None else self.reason
        return "updated " + ago(age)

    def paintEvent(self, _event: QPaintEvent) -> None:
        """The unchanging face of a tile (colour, icon, label, word) comes from a cached pixmap; only the "updated N s
        ago" line is drawn each time. Every Qt call from Python lets the hub's threads take the GIL, so a tile drawn
        call by call (~30 calls) kept the GUI thread waiting during bursts (bench/stalls.py)."""
        style = self.style_for()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._face(style))
        rect = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        h = rect.height()
        pad = self._pad(h, rect.width())
        painter.setPen(QColor(style.text))
        line, font = self.fitted_detail(time.time())
        painter.setFont(font)
        painter.drawText(QRectF(rect.x() + pad, rect.y() + h * (0.80 if self.large else 0.74), rect.width() - 2 * pad,
                                h * (0.17 if self.large else 0.2)),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight,
                                                          int(rect.width() - 2 * pad)))
        painter.end()

    def fitted_detail(self, now: float) -> tuple[str, QFont]:
        """The detail line and the font it is drawn in: smaller, then the short form ("5 min ago"), so a narrow
        tile on a full wall shows it whole instead of "last heard 5 mi…"."""
        rect = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        room = rect.width() - 2 * self._pad(rect.height(), rect.width())
        font = self._small_font(rect.height())
        line = self.detail_line(now)
        size = fitting_size(font, re.sub(r"\d", "8", line), font.pixelSize(), room)  # one size for 3 s .. 59 s
        probe = QFont(font)
        probe.setPixelSize(size)
        if QFontMetrics(probe).horizontalAdvance(line) > room or size < font.pixelSize() * 0.7:
            line = short_form(line)
            size = fitting_size(font, re.sub(r"\d", "8", line), font.pixelSize(), room)
        font.setPixelSize(size)
        return line, font

    def _small_font(self, h: float) -> QFont:
        small = QFont(self.font())
        small.setPixelSize(max(11, int(h * (0.09 if self.large else 0.11))))
        return small

    def _face(self, style: TileStyle) -> QPixmap:
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio, style, self.label, None if self.stale else self.state,
               self.hasFocus(), self.large, self.font().family())
        face = _FACES.get(key)
        if face is None:
            if len(_FACES) > MAX_FACES:
                _FACES.clear()
            face = _FACES[key] = self._draw_face(style, ratio)
        return face

    def type_sizes(self, word: str) -> tuple[int, int]:
        """The pixel sizes of the stall's number (label) and of the state word `word` at the tile's present size: the
        wall display's readability (a share of the screen's height) is measured on these."""
        h = self.height() - 6
        return max(12, int(h * 0.26)), self._word_layout(word)[0]

    def _word_layout(self, word: str) -> tuple[int, str]:
        """The state word's pixel size and text: on a large tile in two lines ("NO" / "SIGNAL") where that makes it
        larger, as narrow tiles on a full wall do."""
        h, w = self.height() - 6, self.width() - 6
        font = QFont(self.font())
        font.setBold(True)
        room = w - 2 * self._pad(h, w)
        if not self.large:
            return fitting_size(font, word, int(h * 0.20), room), word
        one = fitting_size(font, word, int(h * 0.34), room)
        if " " not in word:
            return one, word
        parts = word.split(" ", 1)
        two = min(fitting_size(font, part, int(h * 0.21), room) for part in parts)
        return (two, "\n".join(parts)) if two > one else (one, word)

    def _pad(self, h: float, w: float) -> float:
        return min(h * 0.08, w * 0.04) if self.large else h * 0.08

    def _draw_face(self, style: TileStyle, ratio: float) -> QPixmap:
        face = QPixmap(int(self.width() * ratio), int(self.height() * ratio))
        face.setDevicePixelRatio(ratio)
        face.fill(Qt.GlobalColor.transparent)
        painter = QPainter(face)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, self.width(), self.height()).adjusted(3, 3, -3, -3)
        painter.setPen(QPen(QColor("#000000" if self.hasFocus() else style.background), 3))
        painter.setBrush(QColor(style.background))
        painter.drawRoundedRect(rect, 10, 10)
        fg = QColor(style.text)
        h = rect.height()
        pad = self._pad(h, rect.width())
        icon = QRectF(rect.x() + pad, rect.y() + pad, h * 0.26, h * 0.26)
        paint_icon(painter, None if self.stale else self.state, icon, fg)
        painter.setPen(fg)
        label_px, _word = self.type_sizes(style.word)
        word_px, word_text = self._word_layout(style.word)
        label_font = QFont(self.font())
        label_font.setPixelSize(label_px)
        label_font.setBold(True)
        painter.setFont(label_font)
        painter.drawText(QRectF(icon.right() + pad, rect.y() + pad * 0.5, rect.width() - icon.width() - 3 * pad,
                                h * 0.34), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.label)
        word_font = QFont(self.font())
        word_font.setBold(True)
        word_font.setPixelSize(word_px)
        painter.setFont(word_font)
        top, tall = (0.36, 0.44) if self.large else (0.42, 0.30)
        painter.drawText(QRectF(rect.x() + pad, rect.y() + h * top, rect.width() - 2 * pad, h * tall),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, word_text)
        painter.end()
        return face

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if not self.large and event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit(self.stall_id)
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if not self.large and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.stall_id)
            return
        super().keyPressEvent(event)
