"""A private event loop on its own thread, for sync callers of the async HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from anyio.from_thread import start_blocking_portal

T = TypeVar("T")


class LoopThread:
    """A private event loop on its own thread (anyio's blocking portal).

    Sync callers get a loop that outlives one call, so the pooled connections of a
    :class:`RemoteClient` are reused across batches; async callers hand their work over.
    """

    def __init__(self, name: str = "swerm-remote") -> None:
        self.name = name
        self._manager = start_blocking_portal(backend="asyncio")
        self.portal = self._manager.__enter__()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(*args)`` on the loop and wait; Ctrl-C cancels it."""
        return self.portal.call(func, *args)

    async def arun(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Await ``func(*args)`` on the private loop from another event loop."""
        return await asyncio.wrap_future(self.portal.start_task_soon(func, *args))

    def close(self) -> None:
        """Cancel what still runs on the loop (e.g. litellm's logging worker), then stop it."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.portal.call(_cancel_other_tasks)
        self._manager.__exit__(None, None, None)


async def _cancel_other_tasks() -> None:
    # The portal's own tasks are named after anyio; everything else was left behind by others.
    tasks = [
        task
        for task in asyncio.all_tasks()
        if not task.get_name().startswith("anyio.") and not task.done()
    ]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
