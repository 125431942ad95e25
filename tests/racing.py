"""Racing threads: several callables started together, each on its own database connection."""

import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from django.db import connections


class Finish(NamedTuple):
    """What the racers returned and raised, in the order they finished."""

    results: list[Any]
    errors: list[Exception]


def race(racers: Sequence[Callable[[], Any]], *, timeout: float = 60.0) -> Finish:
    """Run each callable in its own thread, all released at once from a barrier; wait for all.

    Each thread closes its database connections when done. A racer still running after
    ``timeout`` seconds fails the test (a hang, not a slow machine: keep it generous).
    """
    results: list[Any] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(len(racers))

    def run(racer: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results.append(racer())
        except Exception as error:  # noqa: BLE001 - reported to the test, which asserts on it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(racer,)) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {len(threads)} racers still running after {timeout} s"
    return Finish(results, errors)
