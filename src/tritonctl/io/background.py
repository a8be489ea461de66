"""A call on a thread of its own, its result (or what it raised) taken later: for a request that can go out while
the caller does other work. A daemon thread: a command that ends early does not wait for a request under way."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    """fn() on a thread of its own; result() waits for it and returns its value or raises what it raised."""

    def __init__(self, fn: Callable[[], object], name: str = "tritonctl-background") -> None:
        self._outcome: tuple[bool, object] | None = None

        def run() -> None:
            try:
                self._outcome = (True, fn())
            except BaseException as e:  # raised again by result(), in the caller's thread
                self._outcome = (False, e)

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        done, value = self._outcome
        if not done:
            raise value
        return value
