"""A card reader read as its own input device: the Linux key codes it sends, turned back into the card's text.

A USB reader in keyboard (HID) mode is a keyboard to the kernel. Read from its event device
(`/dev/input/by-id/...-event-kbd`), its keys never reach the window in focus, so nothing can lose a swipe and a
swipe never types into a field. `KeyDecoder` takes the device's key events (code, value) and returns a card's text
when Enter ends a run of at least `min_chars` characters. Readers send the US layout's key codes whatever the desk's
keyboard layout is (that is how they are configured out of the box), so the map below is the US one.

The codes are those of linux/input-event-codes.h.
"""

from __future__ import annotations

from dataclasses import dataclass

EV_KEY = 1
RELEASED, PRESSED, REPEATED = 0, 1, 2
SHIFTS = frozenset({42, 54})  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
CAPS_LOCK = 58
ENTERS = frozenset({28, 96})  # KEY_ENTER, KEY_KPENTER
MAX_RUN = 256  # a run without Enter longer than this is not a card: dropped

# code: (plain, shifted)
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)", 12: "-_", 13: "=+",
    16: "qQ", 17: "wW", 18: "eE", 19: "rR", 20: "tT", 21: "yY", 22: "uU", 23: "iI", 24: "oO", 25: "pP",
    26: "[{", 27: "]}", 30: "aA", 31: "sS", 32: "dD", 33: "fF", 34: "gG", 35: "hH", 36: "jJ", 37: "kK", 38: "lL",
    39: ";:", 40: "'\"", 41: "`~", 43: "\\|", 44: "zZ", 45: "xX", 46: "cC", 47: "vV", 48: "bB", 49: "nN", 50: "mM",
    51: ",<", 52: ".>", 53: "/?", 57: "  ",
    # the keypad (some readers send their digits there)
    71: "77", 72: "88", 73: "99", 74: "--", 75: "44", 76: "55", 77: "66", 78: "++", 79: "11", 80: "22", 81: "33",
    82: "00", 83: "..", 98: "//", 55: "**",
}
KEYMAP: dict[int, tuple[str, str]] = {code: (pair[0], pair[1]) for code, pair in _ROWS.items()}


@dataclass
class DecodeCounts:
    swipes: int = 0
    short: int = 0  # Enter after fewer than min_chars characters
    unknown_keys: int = 0  # keys with no character in the map (left out of the text)


class KeyDecoder:
    """Key events of one reader in, card texts out."""

    def __init__(self, min_chars: int = 4) -> None:
        self.min_chars = max(1, min_chars)
        self.counts = DecodeCounts()
        self._chars: list[str] = []
        self._shift: set[int] = set()
        self._caps = False

    def feed(self, code: int, value: int) -> str | None:
        """One EV_KEY event; the card's text when this was the Enter that ends a swipe, else None."""
        if code in SHIFTS:
            if value == RELEASED:
                self._shift.discard(code)
            else:
                self._shift.add(code)
            return None
        if value != PRESSED:
            return None  # releases, and auto-repeat (a reader never holds a key)
        if code == CAPS_LOCK:
            self._caps = not self._caps
            return None
        if code in ENTERS:
            text, self._chars = "".join(self._chars), []
            if len(text) >= self.min_chars:
                self.counts.swipes += 1
                return text
            if text:
                self.counts.short += 1
            return None
        pair = KEYMAP.get(code)
        if pair is None:
            self.counts.unknown_keys += 1
            return None
        plain, shifted = pair
        upper = bool(self._shift) != (self._caps and plain.isalpha())
        self._chars.append(shifted if upper else plain)
        if len(self._chars) > MAX_RUN:
            self._chars.clear()
        return None

    def reset(self) -> None:
        """The device went away: a half-read card is dropped, and so are held keys."""
        self._chars.clear()
        self._shift.clear()
