"""The chaos run's load: a fixed number of connections, each posting back to back for a
fixed time, every answer kept (its status or the socket error, when it was sent, how long it
took). wrk counts only "non-2xx", and this run must tell 503 from 500."""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import httpx2

from bench.load import percentile

TIMEOUT = 10.0  # seconds; a request slower than this counts as a socket error (a timeout)


@dataclass(frozen=True)
class Answer:
    sent_at: float  # seconds since the load began
    status: str  # "200", "503", …, or the name of the transport error
    seconds: float

    @property
    def is_socket_error(self) -> bool:
        return not self.status.isdigit()


@dataclass(frozen=True)
class LoadSummary:
    requests: int
    statuses: dict[str, int]  # HTTP status → count (socket errors not included)
    socket_errors: dict[str, int]  # error name → count
    p50_ms: float
    p99_ms: float
    max_ms: float
    after_recovery: int  # requests sent once the database was back
    after_recovery_ok: int  # … of which answered 200
    last_non_200_at: float | None  # when the last request not answered 200 was sent

    def count(self, status: str) -> int:
        return self.statuses.get(status, 0)

    @property
    def other_statuses(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in ("200", "503"))


def drive(urls: list[str], *, authorization: str, connections: int, seconds: float) -> list[Answer]:
    """``connections`` loops of POSTs, each connection going round ``urls`` from its own start."""
    return asyncio.run(_drive(urls, authorization, connections, seconds))


async def _drive(
    urls: list[str], authorization: str, connections: int, seconds: float
) -> list[Answer]:
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": authorization}
    began = time.perf_counter()
    async with httpx2.AsyncClient(limits=limits, timeout=TIMEOUT) as client:
        loops = (
            _loop(client, urls, n, headers, began, began + seconds) for n in range(connections)
        )
        answers = await asyncio.gather(*loops)
    return [answer for loop in answers for answer in loop]


async def _loop(
    client: httpx2.AsyncClient,
    urls: list[str],
    offset: int,
    headers: dict[str, str],
    began: float,
    until: float,
) -> list[Answer]:
    answers = []
    n = offset
    while (sent := time.perf_counter()) < until:
        try:
            response = await client.post(urls[n % len(urls)], headers=headers)
            status = str(response.status_code)
        except httpx2.HTTPError as error:
            status = type(error).__name__
        answers.append(Answer(sent - began, status, time.perf_counter() - sent))
        n += 1
    return answers


def summarize(answers: list[Answer], *, recovered_at: float) -> LoadSummary:
    """Counts and latencies of a run whose database was back at ``recovered_at`` seconds."""
    latencies = sorted(answer.seconds * 1000 for answer in answers) or [0.0]
    after = [answer for answer in answers if answer.sent_at >= recovered_at]
    failed = [answer.sent_at for answer in answers if answer.status != "200"]
    return LoadSummary(
        requests=len(answers),
        statuses=dict(Counter(a.status for a in answers if not a.is_socket_error)),
        socket_errors=dict(Counter(a.status for a in answers if a.is_socket_error)),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1],
        after_recovery=len(after),
        after_recovery_ok=sum(1 for answer in after if answer.status == "200"),
        last_non_200_at=max(failed) if failed else None,
    )


def duplicate_refreshes(refreshed_zuids: Iterable[str]) -> tuple[int, int]:
    """(grants refreshed, refreshes beyond the first per grant) from the Zoho users of the
    successful refreshes: each grant's token expires once in the run, so single-flight
    allows exactly one refresh per grant."""
    per_grant: defaultdict[str, int] = defaultdict(int)
    for zuid in refreshed_zuids:
        per_grant[zuid] += 1
    return len(per_grant), sum(n - 1 for n in per_grant.values())
