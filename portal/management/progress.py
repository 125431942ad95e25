"""Progress of long management commands: a bar on a terminal, plain lines anywhere else.

Services never import this module. A long service takes an optional callback
``progress(stage, done, total)`` (what it is walking, how many so far, how many in all), the
shape ``portal.demo`` has always used, and calls it as often as it likes; the command hands it a
:class:`Stages`, which draws one :class:`Bar` per stage. A command that counts on its own
(``check_grants``) uses a :class:`Bar` directly.

On a terminal the bar is tqdm's, with rate and time left. Elsewhere (cron, CI, a pipe) a plain
line is written each time another ``EVERY_PERCENT`` of the total is done or ``EVERY_SECONDS``
have passed, whichever comes first::

    verify_audit: 120,000/1,000,000 events (12%), 45,000/s, about 20 s left

Both end with one summary line. Everything goes to the command's stderr, so stdout keeps only
the result (``verify_audit``'s anchor, a new service key) for scripts and for cron's mail.
"""

import os
import time
from collections.abc import Callable
from typing import Any, Self

from django.core.management.base import OutputWrapper
from tqdm import tqdm

EVERY_SECONDS = 10.0
EVERY_PERCENT = 10.0
FALLBACK_WIDTH = 80


class Bar:
    """Progress through ``total`` units (None: unknown) of one kind of thing (``unit``)."""

    def __init__(
        self,
        out: OutputWrapper,
        *,
        label: str,
        unit: str,
        total: int | None,
        every_seconds: float = EVERY_SECONDS,
        every_percent: float = EVERY_PERCENT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out, self.label, self.unit, self.total = out, label, unit, total
        self.done = 0
        self._every_seconds, self._every_percent, self._clock = every_seconds, every_percent, clock
        self._started = self._last_line = clock()
        self._next_percent = every_percent
        self._bar: tqdm[Any] | None = None
        if out.isatty():
            width = _width(out)
            self._bar = tqdm(
                total=total,
                desc=label,
                unit=f" {unit}",
                file=_Unstyled(out),
                ncols=width,
                dynamic_ncols=width is None,
            )

    def advance(self, count: int = 1) -> None:
        """``count`` more units are done."""
        self.reach(self.done + count)

    def reach(self, done: int, total: int | None = None) -> None:
        """``done`` units are done in all (and the total is ``total``, when it is given)."""
        if total is not None and total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
        step, self.done = done - self.done, done
        if self._bar is not None:
            self._bar.update(step)
            return
        if self.total is not None and done >= self.total:
            return  # the summary line says it, with a rate that means something
        now = self._clock()
        if now - self._last_line >= self._every_seconds or self._crossed_a_mark():
            self._last_line = now
            self._line(self._running(now))

    def close(self) -> None:
        """End the bar and write the summary line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._line(self._summary(self._clock() - self._started))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _crossed_a_mark(self) -> bool:
        if not self.total or self.done * 100 < self._next_percent * self.total:
            return False
        percent = self.done * 100 / self.total
        self._next_percent = (percent // self._every_percent + 1) * self._every_percent
        return True

    def _running(self, now: float) -> str:
        rate = self.done / max(now - self._started, 1e-9)
        if not self.total:
            return f"{self.label}: {self.done:,} {self.unit}, {_number(rate)}/s"
        left = max(self.total - self.done, 0) / rate if rate else None
        eta = f"about {_duration(left)} left" if left is not None else "time left unknown"
        return (
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit} "
            f"({self.done * 100 // self.total}%), {_number(rate)}/s, {eta}"
        )

    def _summary(self, seconds: float) -> str:
        rate = self.done / max(seconds, 1e-9)
        of = f" of {self.total:,}" if self.total is not None and self.done < self.total else ""
        return (
            f"{self.label}: {self.done:,}{of} {self.unit} in {_duration(seconds)} "
            f"({_number(rate)}/s)"
        )

    def _line(self, text: str) -> None:
        self.out.write(text, style_func=_unstyled)
        self.out.flush()


class Stages:
    """The ``progress(stage, done, total)`` callback long services take: one bar per stage.

    Use it as a context manager so the last stage gets its summary line too.
    """

    def __init__(self, out: OutputWrapper, *, label: str, **options: Any) -> None:
        """``options`` go to each :class:`Bar` (``every_seconds``, ``every_percent``, ``clock``)."""
        self.out, self.label, self._options = out, label, options
        self._stage: str | None = None
        self._bar: Bar | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._bar is None or stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = Bar(self.out, label=self.label, unit=stage, total=total, **self._options)
        self._bar.reach(done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Unstyled:
    """tqdm's file: OutputWrapper would end every ``\\r`` redraw with a newline and colour
    stderr's text as an error."""

    def __init__(self, out: OutputWrapper) -> None:
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text, style_func=_unstyled, ending="")
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def __getattr__(self, name: str) -> object:  # encoding, fileno: tqdm sizes the bar with them
        return getattr(self._out, name)


def _width(out: OutputWrapper) -> int | None:
    """None (the bar follows the terminal's width) unless the terminal has no size, as a
    pseudo-terminal made by ``script`` or ``docker exec -t`` may not: tqdm would draw nothing."""
    try:
        return None if os.get_terminal_size(out.fileno()).columns > 0 else FALLBACK_WIDTH
    except (OSError, ValueError):
        return FALLBACK_WIDTH


def _unstyled(text: str) -> str:
    return text


def _number(value: float) -> str:
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
