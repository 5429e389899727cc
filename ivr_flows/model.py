"""The shape of an IVR flow: frozen values built by the loader from a YAML file.

A flow is a graph of nodes. Each node kind says what the caller hears and what they may do:

- ``say``: speak, then go on to ``next``.
- ``menu``: speak the choices and wait for one key (or a spoken keyword).
- ``collect``: wait for several digits checked by a validator, optionally read them back.
- ``record``: record the caller's own words.
- ``action``: ask the application to do something (file a ticket, look up a status) and
  branch on the result.
- ``hours``: branch on business hours and public holidays.
- ``enqueue``: put the caller through to agents, with hold messages.
- ``transfer``: dial another number.
- ``survey``: a 1–5 satisfaction score.
- ``hangup``: say goodbye and end the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

NODE_KINDS = (
    "say", "menu", "collect", "record", "action", "hours", "enqueue", "transfer", "survey",
    "hangup",
)  # fmt: skip
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the caller hears: Thai text for the TTS voice, or a recorded audio file."""

    text: str = ""
    audio: str | None = None

    def __bool__(self) -> bool:
        return bool(self.text or self.audio)


@dataclass(frozen=True, slots=True)
class Choice:
    """A menu key's effect: go to ``target``, remembering ``sets`` in the call's data."""

    target: str
    sets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str
    prompt: Prompt = Prompt()
    invalid: Prompt = Prompt()  # said instead of the flow's generic "wrong key" prompt
    next: str | None = None
    # menu / survey
    options: Mapping[str, Choice] = field(default_factory=dict)
    speech: Mapping[str, str] = field(default_factory=dict)  # spoken keyword -> key
    # collect
    validator: str | None = None
    store: str | None = None
    optional: bool = False
    confirm: Prompt = Prompt()
    pick: Prompt = Prompt()  # said when the value names several places: "{choices}" lists them
    unknown: bool = False  # "#" alone (or silence) means "I do not know": go on without it
    # record
    max_length: int | None = None
    # action
    action: str | None = None
    results: Mapping[str, str] = field(default_factory=dict)  # action result -> node
    # hours
    open: str | None = None
    closed: str | None = None
    # enqueue / transfer
    queue: str | None = None
    hold: Prompt = Prompt()
    hold_audio: str | None = None  # played after the hold message, instead of a silent gap
    after: str | None = None
    busy: str | None = None  # the queue is full or failed: no agent can take the call now
    leave: str | None = None  # the caller keys 1 to stop waiting, or waited ``max_wait``
    max_wait: int | None = None  # seconds in the queue before the caller is offered ``leave``
    number: str | None = None
    timeout: int = 30  # seconds a transfer rings before it gives up

    def targets(self) -> dict[str, str]:
        """Every node this one can lead to, keyed by what leads there (for the linter)."""
        found: dict[str, str] = {}
        for name in ("next", "open", "closed", "after", "busy", "leave"):
            value = getattr(self, name)
            if value:
                found[name] = value
        for key, choice in self.options.items():
            found[f"options.{key}"] = choice.target
        for result, target in self.results.items():
            found[f"results.{result}"] = target
        return found


@dataclass(frozen=True, slots=True)
class BusinessHours:
    days: frozenset[int]  # 0 = Monday
    open: time
    close: time
    timezone: str = "Asia/Bangkok"
    # A flow without ``hours`` is answered around the clock, public holidays included.
    holidays_closed: bool = True


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    source: str
    start: str
    agent: str
    after_hours_agent: str
    nodes: Mapping[str, Node]
    hours: BusinessHours
    no_input: Prompt
    invalid: Prompt
    transfer_notice: Prompt
    give_up: str = ""  # where a caller goes after too many failures with no agent to reach
    max_failures: int = 2

    @property
    def max_total_failures(self) -> int:
        return self.max_failures * 3

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]
