"""Small overrides of amqtt 0.12.1, each written so that it could be offered upstream.

`KioskBroker` is the amqtt `Broker` with these fixes applied; `service.py` uses it instead of `Broker`.

1. Closing a connection whose peer already went away leaked the socket. `StreamWriterAdapter.close()` awaits
   `drain()` before `close()`; when the client has reset the connection `drain()` raises, and when the broker is
   shutting down the await is cancelled. Either way the caller swallows the error and the transport stays open
   until garbage collection (seen in our tests as "unclosed transport" warnings after a shutdown). The fixed
   adapter always closes the transport.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker


class AlwaysClosingStreamWriter(StreamWriterAdapter):
    async def close(self) -> None:
        try:
            await super().close()
        finally:
            transport = self._writer.transport
            if not transport.is_closing():
                transport.close()
            with suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)


class KioskBroker(Broker):
    async def stream_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               listener_name: str) -> None:
        await self._client_connected(listener_name, StreamReaderAdapter(reader),
                                     AlwaysClosingStreamWriter(writer))
