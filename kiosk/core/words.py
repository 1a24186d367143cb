"""Words people read: counts with the right plural ("1 point", "2 commands", "1,204 readings")."""

from __future__ import annotations


def plural(count: int, word: str, words: str | None = None) -> str:
    """`plural(1, "device")` -> "1 device"; `plural(2, "device")` -> "2 devices"; irregular: pass `words`."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def shown(value: object) -> str:
    """A setting's value as the audit log and messages say it: on/off, "not set", text in quotes, numbers as they
    are; never Python's True, False or None."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "not set"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
