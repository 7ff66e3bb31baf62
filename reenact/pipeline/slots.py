"""The one-slot, newest-wins queue that joins live stages.

A live stage should always work on the freshest frame it can get: a frame that
waited behind others is stale by the time it is shown. So a stage's output is
a single slot; putting into a full slot replaces what was there (the old frame
is dropped and counted), and the next stage takes whatever is newest. Latency
then stays bounded by the stages' own times however slow one of them is; a slow
stage lowers the frame rate instead. (DeepFaceLive's backend queues, StyleGAN3's
renderer that drops stale requests.)
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds at most one item; `put` replaces an untaken one, `get` waits for one or for `close`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dropped = 0
        """Items replaced before anyone took them."""
        self._item: T | None = None
        self._closed = False
        self._ready = threading.Condition()

    def put(self, item: T) -> None:
        """Offer the newest item; an item still waiting is dropped. Ignored once closed."""
        with self._ready:
            if self._closed:
                return
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._ready.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The newest item, waiting up to `timeout` seconds (None: until one comes or the slot closes).

        None when the wait timed out, or when the slot is closed and empty (`closed` tells which).
        """
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """No more items will come: a waiting `get` returns the last item, then None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def pending(self) -> bool:
        """An item is waiting to be taken."""
        return self._item is not None

    @property
    def closed(self) -> bool:
        """Closed and nothing left to take."""
        with self._ready:
            return self._closed and self._item is None
