"""Threads released together on one store call (a unique module name: test folders have
no ``__init__.py``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def race(n: int, attempt: Callable[[int], R]) -> list[R | Exception]:
    """Run ``attempt`` in ``n`` threads released together; each one's result or error."""
    barrier = threading.Barrier(n)
    results: list[R | Exception] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        outcome: R | Exception
        try:
            outcome = attempt(i)
        except Exception as error:  # the caller sorts winners from losers
            outcome = error
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results
