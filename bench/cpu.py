"""Where the machine's CPU time goes during a load: gunicorn workers, PostgreSQL, wrk."""

import resource
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil


@dataclass
class CpuUse:
    """CPU seconds (user + system) spent by each group of processes during one load."""

    seconds: dict[str, float] = field(default_factory=dict)
    by_process: dict[str, dict[int, float]] = field(default_factory=dict)

    def busiest_share(self, group: str) -> float:
        """The share of a group's CPU taken by its busiest process (0.5 = two even workers)."""
        times = self.by_process.get(group, {})
        total = sum(times.values())
        return max(times.values()) / total if total else 0.0

    def per_request_us(self, requests: int) -> dict[str, float]:
        return {name: 1e6 * value / max(requests, 1) for name, value in self.seconds.items()}


def _times(processes: list[psutil.Process]) -> dict[int, float]:
    times = {}
    for process in processes:
        try:
            cpu = process.cpu_times()
        except psutil.Error:
            continue
        times[process.pid] = cpu.user + cpu.system
    return times


def _children_rusage() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_busy() -> float:
    times = psutil.cpu_times()  # all CPUs; guest time is already part of user time
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(getattr(times, name, 0.0) for name in busy)


@contextmanager
def metered(groups: dict[str, Callable[[], list[psutil.Process]]]) -> Iterator[CpuUse]:
    """Measure each group's CPU over the ``with`` block; "load generator" is what this
    process's finished children (wrk) used meanwhile, and "everything else" what the rest of
    the machine did (other people's work competes for the same cores)."""
    use = CpuUse()
    before = {name: _times(find()) for name, find in groups.items()}
    children_before, machine_before = _children_rusage(), _machine_busy()
    yield use
    for name, find in groups.items():
        after = _times(find())
        use.by_process[name] = {pid: t - before[name].get(pid, 0.0) for pid, t in after.items()}
        use.seconds[name] = sum(use.by_process[name].values())
    use.seconds["load generator"] = _children_rusage() - children_before
    ours = sum(use.seconds.values())
    use.seconds["everything else"] = max(0.0, _machine_busy() - machine_before - ours)


@contextmanager
def sampled(
    groups: dict[str, Callable[[], list[psutil.Process]]], interval: float = 0.5
) -> Iterator[CpuUse]:
    """Like :func:`metered`, for groups whose processes come and go during the load (database
    backends of connections closed after each job): their CPU time is sampled every
    ``interval`` in a background thread, so a process that ended keeps its last sample (at
    most ``interval`` of its CPU time is missed)."""
    before = {name: _times(find()) for name, find in groups.items()}
    last: dict[str, dict[int, float]] = {name: dict(times) for name, times in before.items()}
    machine_before = _machine_busy()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            for name, find in groups.items():
                last[name].update(_times(find()))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    use = CpuUse()
    try:
        yield use
    finally:
        stop.set()
        thread.join()
    for name, find in groups.items():
        last[name].update(_times(find()))
        use.by_process[name] = {
            pid: t - before[name].get(pid, 0.0) for pid, t in last[name].items()
        }
        use.seconds[name] = sum(use.by_process[name].values())
    ours = sum(use.seconds.values())
    use.seconds["everything else"] = max(0.0, _machine_busy() - machine_before - ours)
