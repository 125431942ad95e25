"""The two loads: wrk at a fixed number of connections, and a burst of concurrent callers."""

import asyncio
import json
import math
import os
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

import httpx2

from bench.servers import OUT, ROOT

LUA_SCRIPT = ROOT / "bench" / "request.lua"


@dataclass(frozen=True)
class WrkResult:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx_3xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def all_ok(self) -> bool:
        return self.requests > 0 and self.non_2xx_3xx == 0 and self.socket_errors == 0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    path = wrk_path()
    if path is None:
        return "absent"
    answer = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    return (answer.stdout or answer.stderr).split("Copyright")[0].strip()


def run_wrk(
    label: str,
    url: str,
    *,
    method: str,
    authorization: str = "",
    seconds: int,
    connections: int,
    threads: int = 2,
) -> WrkResult:
    """``wrk --latency`` against ``url``; its full output goes to bench/out/wrk-<label>.log."""
    path = wrk_path()
    assert path is not None
    argv = [path, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    argv += ["--timeout", "5s", "-s", str(LUA_SCRIPT), url]
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_AUTHORIZATION": authorization}
    answer = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)  # noqa: S603
    (OUT / f"wrk-{label}.log").write_text(answer.stdout + answer.stderr)
    line = next(line for line in answer.stdout.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    socket_errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors"))
    return WrkResult(
        label=label,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        non_2xx_3xx=data["non_2xx_3xx"],
        socket_errors=socket_errors + data["timeouts"],
    )


@dataclass(frozen=True)
class BurstResult:
    requests: int
    statuses: dict[str, int]
    distinct_tokens: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def errors(self) -> int:
        return self.requests - self.statuses.get("200", 0)


def burst(url: str, *, authorization: str, callers: int) -> BurstResult:
    """``callers`` POSTs to ``url`` at once, each on its own connection."""
    outcomes = asyncio.run(_burst(url, authorization, callers))
    latencies = sorted(seconds * 1000 for _, _, seconds in outcomes)
    tokens = {token for status, token, _ in outcomes if status == "200"}
    return BurstResult(
        requests=callers,
        statuses=dict(Counter(status for status, _, _ in outcomes)),
        distinct_tokens=len(tokens),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1],
    )


async def _burst(url: str, authorization: str, callers: int) -> list[tuple[str, str, float]]:
    limits = httpx2.Limits(max_connections=callers, max_keepalive_connections=callers)
    headers = {"Authorization": authorization}
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        return await asyncio.gather(*(_call(client, url, headers) for _ in range(callers)))


async def _call(
    client: httpx2.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[str, str, float]:
    started = time.perf_counter()
    try:
        response = await client.post(url, headers=headers)
    except httpx2.HTTPError as error:
        return type(error).__name__, "", time.perf_counter() - started
    elapsed = time.perf_counter() - started
    token = response.json().get("access_token", "") if response.status_code == 200 else ""
    return str(response.status_code), token, elapsed


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]
