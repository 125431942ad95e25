"""What the hot path spends its time on: py-spy attached to both gunicorn workers under wrk.

py-spy samples each worker's Python stack from outside (no change to the portal) including
idle time, so a worker blocked on PostgreSQL still shows where it waits. Stacks are folded
into a few categories (inclusive wall time, busy samples only: a worker waiting for its next
request is left out) and the functions with most self time.
"""

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.servers import OUT

RATE = 400  # samples per second per worker

# Each busy stack goes to the first category whose patterns all match one of its frames
# ("Class.function (path)"), so the shares add up to 100 %.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("PostgreSQL: Django's connection health check (SELECT 1)", (r"\.is_usable \(",)),
    (
        "PostgreSQL: the API's one query (caller.authenticate)",
        (r"^authenticate \(portal/api/caller", r"\(psycopg/"),
    ),
    ("PostgreSQL: other statements", (r"\(psycopg/",)),
    ("token decrypt (portal.crypto)", (r"^decrypt_token \(portal/crypto",)),
    ("the API view, the rest of it", (r"^service_api\.<locals>\.wrapped \(portal/api/views",)),
    ("Django: middleware, URL resolution, request and response", (r"\(django/",)),
    ("gunicorn: parse the request, write the response, close", (r"\(gunicorn/",)),
    ("anything else", (r"",)),
]
# A worker is busy with a request while one of these is on its stack; else it waits for one.
BUSY = re.compile(r"^\w+Worker\.(handle|handle_request) \(gunicorn/workers/")


@dataclass(frozen=True)
class Profile:
    samples: int
    busy_samples: int
    categories: list[tuple[str, float]]
    top_self: list[tuple[str, float]]
    requests: int


def py_spy_path() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"  # the venv's, also when not on PATH
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def hot_path(*, worker_pids: list[int], seconds: int, load: Callable[[], object]) -> Profile | str:
    """Profile ``worker_pids`` while ``load()`` runs; a sentence instead when py-spy cannot."""
    path = py_spy_path()
    if path is None:
        return "py-spy is not installed (requirements-dev.txt); no profile."
    for stale in OUT.glob("py-spy-*.txt"):
        stale.unlink()
    outputs = [OUT / f"py-spy-{pid}.txt" for pid in worker_pids]
    spies = [
        subprocess.Popen(  # noqa: S603 (fixed argv)
            [path, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(RATE)]
            + ["--format", "raw", "--idle", "--nonblocking", "--output", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for pid, output in zip(worker_pids, outputs, strict=True)
    ]
    time.sleep(1)  # let py-spy attach before the load starts
    result = load()
    problems = [spy.communicate()[1].decode()[-300:] for spy in spies if spy.wait() != 0]
    if problems:
        return f"py-spy failed: {problems[0].strip()}"
    try:
        return _fold(outputs, getattr(result, "requests", 0))
    except (OSError, ValueError) as error:
        return f"py-spy's output could not be read: {error}"


def _fold(outputs: list[Path], requests: int) -> Profile:
    stacks: Counter[tuple[str, ...]] = Counter()
    for output in outputs:
        for line in output.read_text(errors="replace").split("\n"):
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue  # not a "frame;frame;... count" line
            frames = tuple(re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";"))
            stacks[frames] += int(count)
    busy = Counter({f: n for f, n in stacks.items() if any(BUSY.match(x) for x in f)})
    total_busy = sum(busy.values()) or 1
    shares: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, n in busy.items():
        shares[_category(frames)] += n
        leaves[frames[-1]] += n
    categories = [(label, 100 * shares[label] / total_busy) for label, _ in CATEGORIES]
    top = [(frame, 100 * n / total_busy) for frame, n in leaves.most_common(12)]
    return Profile(sum(stacks.values()), total_busy, categories, top, requests)


def _category(frames: tuple[str, ...]) -> str:
    for label, patterns in CATEGORIES:
        if all(any(re.search(p, frame) for frame in frames) for p in patterns):
            return label
    return CATEGORIES[-1][0]
