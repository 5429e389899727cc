"""Failed sign-ins counted per user name and per address over a sliding window.

In Redis when the deployment has it (every web process sees the same counts), else in this
process. One counter per process, held by the runtime.
"""

from __future__ import annotations

import threading
import time

from redis import Redis

from config.redis_keys import signin_failures, track_lookups

MAX_FAILURES = 5  # per username
MAX_FAILURES_PER_ADDRESS = 50  # a call center signs in from one NAT address: be generous
WINDOW_S = 15 * 60


class FailureCounter:
    """Sign-in failures per key over a sliding quarter hour (Redis, or this process)."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._local: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def too_many(self, *keys: str) -> bool:
        return any(self._count(key) >= _limit(key) for key in keys)

    def add(self, *keys: str) -> None:
        redis = self._redis
        for key in keys:
            if redis is not None:
                name = signin_failures(key)
                redis.incr(name)
                redis.expire(name, WINDOW_S)
            else:
                with self._lock:
                    self._local.setdefault(key, []).append(time.monotonic())

    def clear(self, key: str) -> None:
        redis = self._redis
        if redis is not None:
            redis.delete(signin_failures(key))
        with self._lock:
            self._local.pop(key, None)

    def _count(self, key: str) -> int:
        redis = self._redis
        if redis is not None:
            value = redis.get(signin_failures(key))
            return int(value) if value else 0
        cutoff = time.monotonic() - WINDOW_S
        with self._lock:
            recent = [t for t in self._local.get(key, []) if t > cutoff]
            self._local[key] = recent
        return len(recent)


def _limit(key: str) -> int:
    return MAX_FAILURES_PER_ADDRESS if key.startswith("ip:") else MAX_FAILURES


class LookupLimit:
    """Requests per address over a fixed window (Redis, or this process): the public /track
    page counts every look-up, right or wrong, so four digits cannot be walked through."""

    def __init__(self, redis: Redis | None, limit: int, window_s: int = WINDOW_S) -> None:
        self._redis = redis
        self.limit = limit
        self._window_s = window_s
        self._local: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Count one look-up from ``address``; False once it is over the limit."""
        redis = self._redis
        if redis is not None:
            name = track_lookups(address)
            with redis.pipeline() as pipe:
                pipe.incr(name)
                pipe.expire(name, self._window_s, nx=True)
                count = int(pipe.execute()[0])
            return count <= self.limit
        cutoff = time.monotonic() - self._window_s
        with self._lock:
            recent = [t for t in self._local.get(address, []) if t > cutoff]
            recent.append(time.monotonic())
            self._local[address] = recent
            return len(recent) <= self.limit
