"""A scripted stand-in for a Redis server at the network edge: what a real one cannot
be made to do on demand (never answer, drop a connection mid-command, ask for a
password). It records every command it receives and answers ``+OK`` unless told
otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import hiredis


class FakeRedis:
    def __init__(self, *, silent: bool = False, drop_first: int = 0) -> None:
        self.silent = silent  # read commands, never answer
        self.drop_first = drop_first  # connections closed on their first command
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        parser = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    self.commands.append(command)
                    if self.drop_first > 0:
                        self.drop_first -= 1
                        return
                    if not self.silent:
                        writer.write(b"+OK\r\n")
        finally:
            writer.close()


@asynccontextmanager
async def fake_redis(*, silent: bool = False, drop_first: int = 0) -> AsyncIterator[FakeRedis]:
    fake = FakeRedis(silent=silent, drop_first=drop_first)
    server = await asyncio.start_server(fake._serve, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
