"""The call log's vocabulary: the kinds of event a call has, and how a call can turn out.

The values are what the call_events and calls tables hold, and what buffered entries carry in
Redis: they never change (add new ones instead).
"""

from __future__ import annotations

from enum import StrEnum


class CallEventKind(StrEnum):
    """What happened on a call: one CallEvent row each (the webhooks and the desk write them)."""

    IVR_ENTER = "ivr_enter"
    IVR_INPUT = "ivr_input"
    IVR_NO_INPUT = "ivr_no_input"
    IVR_INVALID = "ivr_invalid"
    TICKET_FILED = "ticket_filed"
    STATUS_HEARD = "status_heard"
    ENQUEUE = "enqueue"
    CONNECT = "connect"
    ABANDON = "abandon"
    COMPLETE = "complete"
    TRANSFER = "transfer"
    SURVEY_ANSWER = "survey_answer"
    HANGUP = "hangup"
    QUEUE_ERROR = "queue_error"
    SMS_REQUESTED = "sms_requested"
    # Entries that move the call row on but are not events of their own.
    CALL_STARTED = "call_started"
    CALL_STATUS = "call_status"


CALL_ONLY = frozenset({CallEventKind.CALL_STARTED, CallEventKind.CALL_STATUS})
# Twilio's CallStatus values that end a call.
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class CallOutcome(StrEnum):
    """One outcome per call, the way the supervisor reports group them."""

    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_IVR = "abandoned_ivr"
    TRANSFERRED = "transferred"
    SELF_SERVICE = "self_service"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    CANCELED = "canceled"
