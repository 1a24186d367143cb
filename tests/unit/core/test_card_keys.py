"""A card reader's key codes turned back into the card's text (kiosk.core.card_keys)."""

from kiosk.core.card_keys import PRESSED, RELEASED, REPEATED, KeyDecoder

# linux/input-event-codes.h
KEY_C, KEY_S, KEY_2, KEY_0, KEY_1, KEY_ENTER, KEY_LEFTSHIFT, KEY_KP7, KEY_KPENTER, KEY_F1, KEY_CAPSLOCK = (
    46, 31, 3, 11, 2, 28, 42, 71, 96, 59, 58)


def tap(decoder: KeyDecoder, code: int) -> str | None:
    text = decoder.feed(code, PRESSED)
    assert decoder.feed(code, RELEASED) is None
    return text


def shifted(decoder: KeyDecoder, code: int) -> None:
    decoder.feed(KEY_LEFTSHIFT, PRESSED)
    tap(decoder, code)
    decoder.feed(KEY_LEFTSHIFT, RELEASED)


def test_a_card_with_capitals_and_digits_comes_out_as_sent() -> None:
    decoder = KeyDecoder(min_chars=4)
    shifted(decoder, KEY_C)
    shifted(decoder, KEY_S)
    for code in (KEY_2, KEY_0, KEY_2, KEY_1):
        assert tap(decoder, code) is None
    assert tap(decoder, KEY_ENTER) == "CS2021"
    assert decoder.counts.swipes == 1


def test_keypad_digits_and_keypad_enter_are_read_too() -> None:
    decoder = KeyDecoder(min_chars=4)
    for _ in range(4):
        tap(decoder, KEY_KP7)
    assert tap(decoder, KEY_KPENTER) == "7777"


def test_short_runs_unknown_keys_and_repeats_are_counted_not_read() -> None:
    decoder = KeyDecoder(min_chars=4)
    tap(decoder, KEY_1)
    assert tap(decoder, KEY_ENTER) is None and decoder.counts.short == 1
    tap(decoder, KEY_F1)
    decoder.feed(KEY_1, PRESSED)
    decoder.feed(KEY_1, REPEATED)  # a held key does not repeat into the text
    decoder.feed(KEY_1, RELEASED)
    for code in (KEY_2, KEY_0, KEY_2):
        tap(decoder, code)
    assert tap(decoder, KEY_ENTER) == "1202"
    assert decoder.counts.unknown_keys == 1


def test_caps_lock_turns_letters_but_not_digits() -> None:
    decoder = KeyDecoder(min_chars=2)
    tap(decoder, KEY_CAPSLOCK)
    tap(decoder, KEY_C)
    tap(decoder, KEY_1)
    assert tap(decoder, KEY_ENTER) == "C1"


def test_an_unplugged_reader_drops_its_half_card_and_its_held_shift() -> None:
    decoder = KeyDecoder(min_chars=2)
    decoder.feed(KEY_LEFTSHIFT, PRESSED)
    tap(decoder, KEY_C)
    decoder.reset()
    tap(decoder, KEY_S)
    tap(decoder, KEY_1)
    assert tap(decoder, KEY_ENTER) == "s1"
