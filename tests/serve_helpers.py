"""Helpers of the classroom tests: a raw protocol client, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {predicate}")
        await asyncio.sleep(0.01)


class Raw:
    """A bare protocol client: send objects, read frames, nothing done for you."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = 0

    @classmethod
    async def open(cls, url: str, **options: Any) -> Raw:
        raw = cls(await connect(url, compression=None, **options))
        return raw

    async def send(self, kind: str, **fields: Any) -> int:
        self.ids += 1
        await self.ws.send(json.dumps({"type": kind, "id": self.ids, **fields}))
        return self.ids

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))  # type: ignore[no-any-return]

    async def recv_text(self, timeout: float = 5.0) -> str:
        return str(await asyncio.wait_for(self.ws.recv(), timeout))

    async def answer(self, request_id: int, timeout: float = 5.0) -> dict[str, Any]:
        """Read frames until the answer to ``request_id``; events before it are skipped."""
        while True:
            frame = await self.recv(timeout)
            if frame.get("id") == request_id and frame["type"] != "event":
                return frame

    async def ask(self, kind: str, **fields: Any) -> dict[str, Any]:
        return await self.answer(await self.send(kind, **fields))

    async def close(self) -> None:
        await self.ws.close()
