"""Every Redis key the product writes, in one place (an operator can read what is in Redis).

Redis holds only queues, presence and short-lived counters; PostgreSQL is the source of truth.
The RQ job queues use RQ's own keys (``rq:…``).
"""

from __future__ import annotations

PREFIX = "hotline"

# The call log's buffer: each item a web process's batch of entries, drained by the worker.
CALL_LOG_BUFFER = f"{PREFIX}:call-log"
# Buffered items the database refused, kept whole for an operator (docs/operations.md).
CALL_LOG_REFUSED = f"{PREFIX}:call-log:refused"
# How many rounds in a row each scheduled housekeeping task has failed (a hash: task → count;
# a task's field is gone once it succeeds); /readyz shows the tasks failing.
HOUSEKEEPING_FAILURES = f"{PREFIX}:housekeeping:failures"
# STOP and START replies received while the database was down, recorded by the worker's
# housekeeping once it is back (docs/operations.md).
SMS_REPLY_OUTBOX = f"{PREFIX}:sms-replies"


def signin_failures(key: str) -> str:
    """Failed sign-ins counted for one user name (or address), expiring with the window."""
    return f"{PREFIX}:signin-failures:{key}"


def housekeeping_lock(task: str) -> str:
    """One worker in the whole fleet runs each housekeeping round: sms, sweep, deadlines, …"""
    return f"{PREFIX}:lock:{task}"


def simulator_call(handle: str) -> str:
    """A phone simulator call in progress (embedded demo and staging only)."""
    return f"{PREFIX}:simulator:{handle}"


def track_lookups(address: str) -> str:
    """Look-ups on the public /track page from one address, expiring with the window."""
    return f"{PREFIX}:track-lookups:{address}"
