"""Twilio's queue, played by the app in the embedded demo (no Twilio account, no audio).

The phone simulator's waiting caller polls ``/twilio/sim/queue-member`` to learn that an agent
took the call (at the desk, simulated), and when it ended; ``/twilio/sim/caller-left`` says the
caller hung up. Routes of the Twilio router, signed like every /twilio/* request, and served
only where telephony is simulated.
"""

from __future__ import annotations

import json

from hotline.calls.desk import member_state, simulated_caller_left
from hotline.runtime import Runtime
from hotline.twilio.router import Route, WebhookRequest

JSON = "application/json"


class SimulatedQueue:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def routes(self) -> dict[str, Route]:
        return {
            "/twilio/sim/queue-member": Route(self.queue_member, _not_known, JSON),
            "/twilio/sim/caller-left": Route(self.caller_left, _not_ended, JSON),
        }

    def queue_member(self, request: WebhookRequest) -> str:
        """Where the simulator's waiting caller stands: waiting, bridged (simulated) or ended."""
        state, agent_name = member_state(self.rt.db, request.form.get("CallSid", ""))
        return json.dumps({"state": state, "agent": agent_name}, ensure_ascii=False)

    def caller_left(self, request: WebhookRequest) -> str:
        """The simulator's caller hung up: end their simulated bridge to a desk."""
        rt = self.rt
        ended = simulated_caller_left(rt.db, request.form.get("CallSid", ""), rt.clock())
        return json.dumps({"ended": ended})


def _not_known(_request: WebhookRequest) -> str:
    return json.dumps({"state": "unknown", "agent": ""})


def _not_ended(_request: WebhookRequest) -> str:
    return json.dumps({"ended": False})
