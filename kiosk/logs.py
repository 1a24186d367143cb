"""Logging for a program that runs all day: our INFO lines, only warnings from chatty libraries."""

from __future__ import annotations

import logging
import os
import sys

QUIET = ("transitions", "amqtt", "alembic", "aiohttp.access", "asyncio")


class _DropRepeats(logging.Filter):
    """amqtt logs every refused or broken connection as a warning; the kiosk logs those itself, rate-limited."""

    PREFIXES = ("Failed to initialize client session",)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIXES)


# syslog priorities, which the journal reads from a "<N>" prefix (sd-daemon(3))
_PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class _JournalFormatter(logging.Formatter):
    """Lines for the journal: its own time stamp and unit name, so neither is repeated; the level as a priority
    (`journalctl -p warning` then shows warnings and worse)."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITIES.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def to_journal(env: dict[str, str] | os._Environ[str] = os.environ, stream: object = None) -> bool:
    """Whether standard error is the journal (systemd sets JOURNAL_STREAM to its device and inode)."""
    stream = stream if stream is not None else sys.stderr
    expected = env.get("JOURNAL_STREAM", "")
    try:
        info = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    return bool(expected) and expected == f"{info.st_dev}:{info.st_ino}"


def setup(level: str, with_time: bool = True) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if with_time else "%(levelname)s %(name)s: %(message)s"
    if to_journal():
        handler = logging.StreamHandler()
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format=fmt)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("amqtt.broker").addFilter(_DropRepeats())
