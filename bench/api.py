"""Benchmark: the REST API under gunicorn on PostgreSQL, against a bare Flask JSON endpoint.

Both servers run with the same gunicorn settings in the same run. Each operation is driven by
CONCURRENCY clients in a closed loop for BENCH_SECONDS: ticket list (a page of 20), ticket get
(a random ticket of those filed) and ticket create (a web complaint with a phone number and a
place), each with a bearer token, as a partner system would.

Prints one JSON line: requests/s and p99 latency per operation, the bare endpoint's, and the
ratio of each to the bare endpoint.

    python bench/api.py   # BENCH_SECONDS=8 BENCH_CONCURRENCY=16 to change the load
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ivr_webhooks import BIN, GUNICORN, percentile, wait_until_up

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1/postgres")
DB_NAME = "hotline_bench_api"
DATABASE_URL = f"postgresql://postgres@127.0.0.1/{DB_NAME}"
API_PORT, BARE_PORT = 18569, 18570
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
SEED_TICKETS = 200
NEW = {"channel": "web", "category": "nuisance", "description": "โรงงานปล่อยควันดำทุกคืน",
       "caller_phone": "0812345678", "province_code": "50", "postal_code": "50200"}  # fmt: skip
Request = Callable[[aiohttp.ClientSession], Awaitable[None]]


def env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "HOTLINE_ENV": "embedded", "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": "", "SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
            "LOG_LEVEL": "WARNING", "PYTHONPATH": root}  # fmt: skip


def hotline(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(BIN / "hotline"), *args], env=env(), check=True,
                          capture_output=True, text=True, input=stdin)  # fmt: skip
    return done.stdout


@contextmanager
def serve(app: str, port: int) -> Iterator[None]:
    cmd = [str(BIN / "gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{port}", app]
    proc = subprocess.Popen(cmd, env=env())
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def prepare() -> str:
    """A fresh database, an agent and a read/write token for them; returns the token."""
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    engine.dispose()
    hotline("db", "upgrade")
    hotline("user", "add", "bench", "--role", "agent", "--name", "bench", "--center", "50",
            "--password-stdin", stdin="bench password long enough\n")  # fmt: skip
    out = hotline("token", "create", "bench", "--user", "bench", "--scope", "tickets:read",
                  "--scope", "tickets:write")  # fmt: skip
    return out.strip().splitlines()[-1]


async def closed_loop(request: Request) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) of CONCURRENCY clients for SECONDS."""
    latencies: list[float] = []
    deadline = time.perf_counter() + SECONDS
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def loop() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await request(session)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, percentile(latencies, 0.99) * 1000


def requester(method: str, url: Callable[[], str], headers: dict[str, str], body: object = None,
              expect: int = 200) -> Request:  # fmt: skip
    async def request(session: aiohttp.ClientSession) -> None:
        async with session.request(method, url(), json=body, headers=headers) as r:
            await r.read()
            if r.status != expect:
                raise RuntimeError(f"{method} {url()} -> {r.status}")

    return request


async def seed(base: str, headers: dict[str, str]) -> list[str]:
    async with aiohttp.ClientSession() as session:
        numbers = []
        for _ in range(SEED_TICKETS):
            async with session.post(f"{base}/api/v1/tickets", json=NEW, headers=headers) as r:
                numbers.append((await r.json())["data"]["number"])
    return numbers


def main() -> None:
    token = prepare()
    headers = {"Authorization": f"Bearer {token}"}
    with serve("bench.bare_app:app", BARE_PORT):
        bare = f"http://127.0.0.1:{BARE_PORT}"
        bare_rps, bare_p99 = asyncio.run(closed_loop(requester("GET", lambda: f"{bare}/json", {})))
    with serve("hotline:create_app()", API_PORT):
        base = f"http://127.0.0.1:{API_PORT}"
        numbers = asyncio.run(seed(base, headers))  # also warms imports, pools and caches
        operations = {
            "list": requester("GET", lambda: f"{base}/api/v1/tickets?limit=20", headers),
            "get": requester("GET", lambda: f"{base}/api/v1/tickets/{random.choice(numbers)}",
                             headers),
            "create": requester("POST", lambda: f"{base}/api/v1/tickets", headers, NEW, 201),
        }  # fmt: skip
        measured = {name: asyncio.run(closed_loop(op)) for name, op in operations.items()}
    figures: dict[str, object] = {
        "bench": "api",
        "server": "gunicorn " + " ".join(GUNICORN),
        "database": "postgresql",
        "concurrency": CONCURRENCY,
        "seconds_per_operation": SECONDS,
        "bare_requests_per_s": round(bare_rps, 1),
        "bare_p99_ms": round(bare_p99, 2),
    }
    for name, (rps, p99) in measured.items():
        figures[f"ticket_{name}_requests_per_s"] = round(rps, 1)
        figures[f"ticket_{name}_p99_ms"] = round(p99, 2)
        figures[f"ticket_{name}_ratio"] = round(rps / bare_rps, 3)
    figures["cpu_cores"] = os.cpu_count()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
