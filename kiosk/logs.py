"""Logging for a program that runs all day: our INFO lines, only warnings from chatty libraries."""

from __future__ import annotations

import logging

QUIET = ("transitions", "amqtt", "alembic", "aiohttp.access", "asyncio")


class _DropRepeats(logging.Filter):
    """amqtt logs every refused or broken connection as a warning; the kiosk logs those itself, rate-limited."""

    PREFIXES = ("Failed to initialize client session",)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIXES)


def setup(level: str, with_time: bool = True) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if with_time else "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("amqtt.broker").addFilter(_DropRepeats())
