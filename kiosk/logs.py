"""Logging for a program that runs all day: our INFO lines, only warnings from chatty libraries."""

from __future__ import annotations

import logging

QUIET = ("transitions", "amqtt", "alembic", "aiohttp.access", "asyncio")


def setup(level: str, with_time: bool = True) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if with_time else "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
