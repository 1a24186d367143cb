"""CSV that a spreadsheet opens as text: no cell of ours becomes a formula (CSV injection, OWASP).

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and Google
Sheets as a formula (`=HYPERLINK(...)` in a roster name, say). Such a cell is written with a leading `'`, which the
spreadsheet shows as text and hides. Numbers are written as numbers: only text is guarded.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

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
