"""Each override in kiosk/services/broker/fixes.py has a test here that fails on plain amqtt 0.12.1."""

import asyncio

import pytest
from amqtt.adapters import StreamWriterAdapter

from kiosk.services.broker.fixes import AlwaysClosingStreamWriter


class Transport:
    def __init__(self) -> None:
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


class PeerGoneWriter:
    """The asyncio.StreamWriter of a connection whose peer has gone: drain() fails the way asyncio fails it."""

    def __init__(self, failure: BaseException) -> None:
        self.transport = Transport()
        self._failure = failure

    async def drain(self) -> None:
        raise self._failure

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def close(self) -> None:
        self.transport.close()

    async def wait_closed(self) -> None:
        pass


@pytest.mark.parametrize("failure", [ConnectionResetError(104, "Connection reset by peer"), asyncio.CancelledError()])
@pytest.mark.parametrize(("adapter", "closes"), [(AlwaysClosingStreamWriter, True), (StreamWriterAdapter, False)])
def test_closing_a_connection_whose_peer_is_gone_closes_the_socket(adapter: type, closes: bool,
                                                                   failure: BaseException) -> None:
    """amqtt 0.12.1 (the second case) leaves the transport open: one file descriptor per vanished device."""
    writer = PeerGoneWriter(failure)

    async def close() -> None:
        await adapter(writer).close()

    with pytest.raises((OSError, asyncio.CancelledError)):
        asyncio.run(close())
    assert writer.transport.closed is closes
