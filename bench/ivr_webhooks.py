"""Benchmark: IVR webhooks under gunicorn on PostgreSQL + Redis, against a bare TwiML endpoint.

Both servers run side by side with the same gunicorn settings; rounds of measurements alternate
between them, so a slow moment of the machine weighs on both sides of the ratio. Signed requests
walk real calls (greeting → complaint menus → postal code → skip ID → recording → ticket →
survey; or information menus → an agent → survey), parsing each TwiML answer for the next URL,
exactly as Twilio would. The app's clock runs in office hours (bench/office_hours_app.py), so
callers meet the daytime menu with its agent queue whatever the hour of the run.

Prints one JSON line: IVR requests/s and bare requests/s at full load (closed loop), their
ratio, the IVR p50/p99 latency at a fixed offered load of 100 new calls per second (open loop),
and the resident memory of one web worker after the run. Targets (issue 3): ratio >= 0.5,
p99 < 50 ms at 100 calls/s, < 200 MB per worker.

    python bench/ivr_webhooks.py   # BENCH_SECONDS=10 BENCH_ROUNDS=5 BENCH_CALLS_PER_S=100
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from xml.etree.ElementTree import Element

import aiohttp
from defusedxml.ElementTree import fromstring
from redis import Redis
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from config.redis_keys import CALL_LOG_BUFFER

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1/postgres")
DB_NAME = "hotline_bench_ivr"
DATABASE_URL = f"postgresql://postgres@127.0.0.1/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
IVR_PORT, BARE_PORT = 18567, 18568
TOKEN = "bench-auth-token"  # noqa: S105 - a local test server's token
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CALLS_PER_S = float(os.environ.get("BENCH_CALLS_PER_S", "100"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))  # single rounds swing by ±0.1 of ratio
GUNICORN = os.environ.get(
    "BENCH_GUNICORN",
    "--workers 4 --worker-class gthread --threads 2 --keep-alive 5 --log-level warning",
).split()
# The caller's keys, in order, for every Gather or Record met.
COMPLAINT = ["1", "1", "50200", "1", "", "record", "2", "4"]  # files a ticket: database writes
BROWSE = ["3", "1", "2", "4", "0", "5"]  # information menus, then an agent, then the survey
# A hotline day: most callers browse and ask for an agent; one in four files by phone.
MIX = [COMPLAINT, BROWSE, BROWSE, BROWSE]


def server_env(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_ENV": "embedded",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "PUBLIC_BASE_URL": base_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def prepare_database() -> None:
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    engine.dispose()
    env = server_env("http://127.0.0.1")
    subprocess.run(
        [str(BIN / "hotline"), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    Redis.from_url(REDIS_URL).flushdb()


@contextmanager
def serve(app: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    base = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "gunicorn"), "--config", "python:bench.gunicorn_settings", *GUNICORN,
           "--bind", f"127.0.0.1:{port}", app]  # fmt: skip
    proc = subprocess.Popen(cmd, env=server_env(base), cwd=ROOT)
    try:
        wait_until_up(f"{base}/healthz")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def wait_until_up(url: str) -> None:
    import urllib.request

    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own local server
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def workers_of(master: subprocess.Popen[bytes]) -> list[str]:
    return Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()


def workers_cpu_s(master: subprocess.Popen[bytes]) -> float:
    """User + system CPU seconds used so far by the server's worker processes."""
    ticks = 0
    for pid in workers_of(master):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_rss_mb(master: subprocess.Popen[bytes]) -> float:
    children = workers_of(master)
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return round(max(sizes), 1)


# Calls ------------------------------------------------------------------------------------


class Caller:
    def __init__(self, session: aiohttp.ClientSession, base: str, latencies: list[float]) -> None:
        self.session = session
        self.base = base
        self.latencies = latencies
        self.validator = RequestValidator(TOKEN)

    async def post(self, url: str, params: dict[str, str]) -> Element:
        signature = self.validator.compute_signature(url, params)
        started = time.perf_counter()
        async with self.session.post(
            url, data=params, headers={"X-Twilio-Signature": signature}
        ) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"{url} -> {r.status}")
        self.latencies.append(time.perf_counter() - started)
        root: Element = fromstring(body)
        return root

    async def call(self, script: list[str]) -> int:
        sid = "CA" + secrets.token_hex(16)
        params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+66812345678",
                  "To": "1567", "CallStatus": "in-progress", "Direction": "inbound"}  # fmt: skip
        doc = await self.post(f"{self.base}/twilio/voice", params)
        keys = iter(script)
        requests = 1
        while (step := next_request(doc, keys, params)) is not None:
            if step[0] == "enqueue":
                doc = await self.queue(doc, params)
            else:
                doc = await self.post(*step)
            requests += 1
        ended = {**params, "CallStatus": "completed", "SequenceNumber": "1", "CallDuration": "90"}
        await self.post(f"{self.base}/twilio/status", ended)
        return requests + 1

    async def queue(self, doc: Element, params: dict[str, str]) -> Element:
        """Hold music once, then an agent answers and later hangs up (QueueResult=bridged)."""
        enqueue = next(v for v in doc if v.tag == "Enqueue")
        waiting = {**params, "QueuePosition": "1", "QueueTime": "0", "CurrentQueueSize": "1"}
        await self.post(enqueue.get("waitUrl", ""), waiting)
        bridged = {**params, "QueueResult": "bridged", "QueueTime": "20"}
        return await self.post(enqueue.get("action", ""), bridged)


def next_request(
    doc: Element, keys: Iterator[str], params: dict[str, str]
) -> tuple[str, dict[str, str]] | None:
    for verb in doc:
        if verb.tag == "Gather":
            key = next(keys, None)
            if key is None:
                return None
            if key == "" and verb.get("actionOnEmptyResult") != "true":
                continue
            return verb.get("action", ""), {**params, "Digits": key}
        if verb.tag == "Record":
            next(keys, None)
            sid = "RE" + secrets.token_hex(16)
            recorded = {"RecordingSid": sid, "RecordingDuration": "9", "Digits": "#",
                        "RecordingUrl": f"https://api.twilio.com/{sid}"}  # fmt: skip
            return verb.get("action", ""), {**params, **recorded}
        if verb.tag == "Redirect":
            return verb.text or "", params
        if verb.tag == "Enqueue":
            return "enqueue", params
    return None


async def closed_loop(
    base: str, seconds: float, scripts: list[list[str]]
) -> tuple[float, list[float]]:
    """As many calls as CONCURRENCY callers can make: requests per second and latencies."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        caller = Caller(session, base, latencies)

        async def loop(first: int) -> None:
            n = first
            while time.perf_counter() < deadline:
                await caller.call(scripts[n % len(scripts)])
                n += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop(n) for n in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


async def bare_closed_loop(base: str, seconds: float) -> float:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        caller = Caller(session, base, latencies)
        params = {"CallSid": "CA" + "0" * 32, "From": "+66812345678", "To": "1567"}

        async def loop() -> None:
            while time.perf_counter() < deadline:
                await caller.post(f"{base}/twiml", params)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed


async def open_loop(base: str, seconds: float, calls_per_s: float) -> tuple[list[float], int, int]:
    """Start a new call every 1/calls_per_s seconds, whatever the server's speed."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        caller = Caller(session, base, latencies)
        tasks = []
        started = time.perf_counter()
        for n in range(int(seconds * calls_per_s)):
            delay = started + n / calls_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(caller.call(MIX[n % len(MIX)])))
        results = await asyncio.gather(*tasks, return_exceptions=True)
    # An overloaded server drops connections: count those calls as failed, and report them.
    failed = sum(isinstance(r, (aiohttp.ClientError, RuntimeError)) for r in results)
    return latencies, len(tasks), failed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    prepare_database()
    flusher = subprocess.Popen([str(BIN / "hotline"), "worker"], env=server_env("http://127.0.0.1"))
    try:
        wait_for_worker()  # its start-up would otherwise steal CPU from the first measurement
        with (
            serve("bench.bare_app:app", BARE_PORT) as bare,
            serve("bench.office_hours_app:create_office_hours_app()", IVR_PORT) as master,
        ):
            base = f"http://127.0.0.1:{IVR_PORT}"
            asyncio.run(closed_loop(base, 3, MIX))  # warm up: imports, pools, caches
            rounds = [measure_round(bare, master, base) for _ in range(ROUNDS)]
            wait_until_drained()
            latencies, calls, failed = asyncio.run(open_loop(base, SECONDS, CALLS_PER_S))
            rss = worker_rss_mb(master)
    finally:
        flusher.send_signal(signal.SIGTERM)
        flusher.wait(timeout=60)
    measured = {name: mean_of(rounds, name) for name in ("bare", "mix", "browse", "complaint")}
    bare_rps, bare_cpu_ms = measured["bare"]
    mix_rps, mix_cpu = measured["mix"]
    figures = {
        "bench": "ivr_webhooks",
        "server": "gunicorn --config python:bench.gunicorn_settings " + " ".join(GUNICORN),
        "database": "postgresql",
        "call_log": "redis buffer + hotline worker",
        "traffic_mix": "1 complaint call : 3 browse-then-agent calls",
        "ivr_requests_per_s": round(mix_rps, 1),
        "bare_requests_per_s": round(bare_rps, 1),
        "ratio": round(mix_rps / bare_rps, 3),
        "ivr_server_cpu_ms_per_request": round(mix_cpu, 3),
        "bare_server_cpu_ms_per_request": round(bare_cpu_ms, 3),
        "cpu_cost_ratio": round(bare_cpu_ms / mix_cpu, 3),
    }
    for name in ("browse", "complaint"):
        rps, cpu = measured[name]
        figures[f"{name}_requests_per_s"] = round(rps, 1)
        figures[f"{name}_ratio"] = round(rps / bare_rps, 3)
        figures[f"{name}_server_cpu_ms_per_request"] = round(cpu, 3)
    figures.update({
        "ratio_by_round": [round(r["mix"][0] / r["bare"][0], 3) for r in rounds],
        "offered_calls_per_s": CALLS_PER_S,
        "calls_started": calls,
        "calls_failed": failed,
        "requests_at_offered_load": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "worker_rss_mb": rss,
        "cpu_cores": os.cpu_count(),
    })  # fmt: skip
    print(json.dumps(figures))


def measure_round(
    bare: subprocess.Popen[bytes], master: subprocess.Popen[bytes], base: str
) -> dict[str, tuple[float, float]]:
    """One round: the bare server, then each IVR workload, back to back (interleaving rounds
    spreads slow moments of the machine over both sides of the ratio)."""
    bare_base = f"http://127.0.0.1:{BARE_PORT}"
    results = {"bare": measure(bare, lambda: asyncio.run(bare_closed_loop(bare_base, SECONDS)))}
    for name, scripts in (("mix", MIX), ("browse", [BROWSE]), ("complaint", [COMPLAINT])):
        results[name] = measure(master, partial(ivr_closed_loop, base, scripts))
    return results


def ivr_closed_loop(base: str, scripts: list[list[str]]) -> float:
    return asyncio.run(closed_loop(base, SECONDS, scripts))[0]


def measure(master: subprocess.Popen[bytes], run: Callable[[], float]) -> tuple[float, float]:
    """Requests per second and server CPU milliseconds per request for one closed-loop run,
    started once the worker has drained the call log the previous run left behind."""
    wait_until_drained()
    cpu_before = workers_cpu_s(master)
    rps = run()
    return rps, (workers_cpu_s(master) - cpu_before) * 1000 / (rps * SECONDS)


def mean_of(rounds: list[dict[str, tuple[float, float]]], name: str) -> tuple[float, float]:
    return (
        statistics.fmean(r[name][0] for r in rounds),
        statistics.fmean(r[name][1] for r in rounds),
    )


def wait_until_drained() -> None:
    redis = Redis.from_url(REDIS_URL)
    for _ in range(300):
        if not redis.llen(CALL_LOG_BUFFER):
            time.sleep(1.2)  # the flush that emptied it may still be committing
            return
        time.sleep(0.1)
    raise RuntimeError("hotline worker did not drain the call log")


def wait_for_worker() -> None:
    from rq import Worker

    redis = Redis.from_url(REDIS_URL)
    for _ in range(300):
        if Worker.all(connection=redis):
            return
        time.sleep(0.1)
    raise RuntimeError("hotline worker did not start")


if __name__ == "__main__":
    main()
