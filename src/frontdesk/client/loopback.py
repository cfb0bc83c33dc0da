"""Serving an ASGI app on a loopback port for the length of an ``async with``.

The socket is bound and listening before uvicorn starts, so the base URL is usable at
once (an early client waits in the backlog), and the app can be built knowing its own
URL. The server task is owned by a task group: leaving the block stops and awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn

__all__ = ["serve_loopback"]


@contextlib.asynccontextmanager
async def serve_loopback(make_app: Callable[[str], Any], **config: Any) -> AsyncIterator[str]:
    """Run ``make_app(base_url)`` on 127.0.0.1; yields ``http://127.0.0.1:PORT``.
    ``config`` goes to ``uvicorn.Config`` (log level defaults to warning)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(make_app(base_url),
                                           **{"log_level": "warning", **config}))
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(sockets=[listener]))
            try:
                yield base_url
            finally:
                server.should_exit = True
    finally:
        listener.close()
