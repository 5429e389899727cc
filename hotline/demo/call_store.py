"""The phone simulator's calls in progress, by handle: in Redis when the deployment has it (any
web process may serve the next key), else in this process. Held by the runtime."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from redis import Redis

from config.redis_keys import simulator_call
from hotline.demo.phone import CallProgress

CALL_TTL_S = 3600  # an abandoned browser call is forgotten after an hour


class CallStore:
    """Calls in progress by handle: Redis when configured (any web process), else this process."""

    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        self._local: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, handle: str) -> CallProgress | None:
        raw: Any
        if self.redis is not None:
            raw = self.redis.get(simulator_call(handle))
        else:
            with self._lock:
                expires, raw = self._local.get(handle, (0.0, None))
            raw = raw if expires > time.monotonic() else None
        return CallProgress.from_dict(json.loads(raw)) if raw else None

    def put(self, handle: str, progress: CallProgress) -> None:
        raw = json.dumps(progress.to_dict())
        if self.redis is not None:
            self.redis.set(simulator_call(handle), raw, ex=CALL_TTL_S)
            return
        with self._lock:
            now = time.monotonic()
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
            self._local[handle] = (now + CALL_TTL_S, raw)

    def delete(self, handle: str) -> None:
        if self.redis is not None:
            self.redis.delete(simulator_call(handle))
        with self._lock:
            self._local.pop(handle, None)
