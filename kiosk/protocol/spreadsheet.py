"""CSV that a spreadsheet opens as text: no cell of ours becomes a formula (CSV injection, OWASP).

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and Google
Sheets as a formula (`=HYPERLINK(...)` in a roster name, say). Such a cell is written with a leading `'`, which the
spreadsheet shows as text and hides. Numbers are written as numbers: only text is guarded.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from kiosk.core.lockers import LockerStatistics

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose text cells cannot become formulas."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])


def write_locker_statistics(figures: LockerStatistics, out: TextIO) -> None:
    """The figures as CSV: one section per table (section, key, value)."""
    writer = SafeWriter(out)
    writer.writerow(["section", "key", "value"])
    writer.writerow(["range", "from", _iso(figures.since)])
    writer.writerow(["range", "to", _iso(figures.until)])
    for key, value in (("free", figures.now.free), ("in use", figures.now.in_use),
                       ("overdue", figures.now.overdue), ("out of order", figures.now.out_of_order)):
        writer.writerow(["now", key, value])
    writer.writerow(["totals", "assignments", figures.assignments])
    writer.writerow(["totals", "average duration (min)",
                     "" if figures.average_duration_s is None else round(figures.average_duration_s / 60, 1)])
    writer.writerow(["totals", "forced releases", figures.forced])
    writer.writerow(["totals", "overdue releases", figures.overdue_released])
    for day, count in figures.per_day:
        writer.writerow(["per day", day, count])
    for hour_of_day, count in enumerate(figures.per_hour):
        writer.writerow(["per hour", f"{hour_of_day:02d}:00", count])


def _iso(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at).isoformat(sep=" ", timespec="seconds")
