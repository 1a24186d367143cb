"""Log lines for the journal when systemd runs the hub: a priority instead of the level word, no time stamp."""

from __future__ import annotations

import logging
import os
import tempfile

from kiosk import logs


def test_the_journal_is_recognised_by_the_stream_systemd_named() -> None:
    with tempfile.TemporaryFile() as stream:
        info = os.fstat(stream.fileno())
        assert logs.to_journal({"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}, stream)
        assert not logs.to_journal({"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino + 1}"}, stream), \
            "a JOURNAL_STREAM inherited by a program whose output went elsewhere"
        assert not logs.to_journal({}, stream)


def test_journal_lines_carry_their_priority_on_every_line() -> None:
    formatter = logs._JournalFormatter("%(name)s: %(message)s")
    warning = logging.LogRecord("kiosk.services.hub", logging.WARNING, __file__, 1, "disk full", None, None)
    assert formatter.format(warning) == "<4>kiosk.services.hub: disk full"
    error = logging.LogRecord("kiosk", logging.ERROR, __file__, 1, "first\nsecond", None, None)
    assert formatter.format(error) == "<3>kiosk: first\n<3>second"
    debug = logging.LogRecord("kiosk", logging.DEBUG, __file__, 1, "detail", None, None)
    assert formatter.format(debug).startswith("<7>")
