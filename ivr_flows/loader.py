"""Load a flow from YAML and check it against the schema.

Every error names the file, the node and the field, so whoever edits a flow can find the line:
``1567.yaml: node 'postal_code', field 'validator': unknown validator 'zip'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ivr_flows.model import (
    NODE_KINDS,
    WEEKDAYS,
    BusinessHours,
    Choice,
    Flow,
    Node,
    Prompt,
)

FLOWS_DIR = Path(__file__).parent / "flows"
VALIDATORS = ("postal_code", "citizen_id", "ticket_number", "phone", "digits")
KEYS = frozenset("123456789")  # 0 and * are global: agent and repeat
SURVEY_KEYS = frozenset("12345")

# Fields each node kind accepts (beyond id/kind); anything else is a typo worth reporting.
FIELDS: Mapping[str, frozenset[str]] = {
    "say": frozenset({"say", "audio", "next"}),
    "menu": frozenset({"say", "audio", "options", "speech", "invalid"}),
    "collect": frozenset(
        {
            "say",
            "audio",
            "validator",
            "store",
            "optional",
            "confirm",
            "pick",
            "unknown",
            "next",
            "invalid",
        }
    ),
    "record": frozenset({"say", "audio", "store", "next", "max_length"}),
    "action": frozenset({"action", "next", "results"}),
    "hours": frozenset({"open", "closed"}),
    "enqueue": frozenset(
        {"say", "audio", "queue", "hold", "hold_audio", "after", "busy", "leave", "max_wait"}
    ),
    "transfer": frozenset({"say", "audio", "number", "next", "timeout"}),
    "survey": frozenset({"say", "audio", "store", "next", "invalid"}),
    "hangup": frozenset({"say", "audio"}),
}
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "say": ("next",),
    "menu": ("options",),
    "collect": ("validator", "store", "next"),
    "record": ("store", "next"),
    "action": ("action",),
    "hours": ("open", "closed"),
    "enqueue": ("queue",),
    "transfer": ("number",),
    "survey": ("store", "next"),
    "hangup": (),
}


class FlowError(ValueError):
    """A flow file that does not match the schema."""

    def __init__(
        self, source: str, message: str, node: str | None = None, field: str | None = None
    ):
        where = source
        if node is not None:
            where += f": node {node!r}"
        if field is not None:
            where += f", field {field!r}" if node is not None else f": field {field!r}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.node = node
        self.field = field


def flow_path(name: str) -> Path:
    """A bundled flow by name (``1567``) or a path to a YAML file."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return FLOWS_DIR / f"{name}.yaml"


@cache
def load_flow(name: str) -> Flow:
    """Load and validate a flow once per process (flows are read-only at run time)."""
    path = flow_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError(path.name, f"cannot read the file ({exc.strerror})") from exc
    return parse_flow(text, path.name)


def parse_flow(text: str, source: str) -> Flow:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowError(source, f"not valid YAML: {exc}") from exc
    return _Builder(source).flow(raw)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str, node: str | None = None, field: str | None = None) -> FlowError:
        return FlowError(self.source, message, node, field)

    def flow(self, raw: object) -> Flow:
        if not isinstance(raw, dict):
            raise self.fail("the file must hold a mapping with 'name', 'start' and 'nodes'")
        known = {"name", "start", "agent", "after_hours_agent", "give_up", "max_failures",
                 "hours", "prompts", "nodes"}  # fmt: skip
        self._no_unknown(raw, known, None)
        nodes_raw = raw.get("nodes")
        if not isinstance(nodes_raw, dict) or not nodes_raw:
            raise self.fail("must be a non-empty mapping of node id to node", field="nodes")
        nodes = {str(node_id): self.node(str(node_id), body) for node_id, body in nodes_raw.items()}
        prompts = raw.get("prompts") or {}
        if not isinstance(prompts, dict):
            raise self.fail("must be a mapping", field="prompts")
        max_failures = raw.get("max_failures", 2)
        if type(max_failures) is not int or not 1 <= max_failures <= 3:  # bool is an int too
            raise self.fail("must be 1, 2 or 3", field="max_failures")
        flow = Flow(
            name=self._text(raw, "name", None),
            source=self.source,
            start=self._text(raw, "start", None),
            agent=self._text(raw, "agent", None),
            after_hours_agent=str(raw.get("after_hours_agent") or raw.get("agent") or ""),
            nodes=nodes,
            hours=self.hours(raw.get("hours")),
            no_input=self._prompt_field(prompts, "no_input", "prompts"),
            invalid=self._prompt_field(prompts, "invalid", "prompts"),
            transfer_notice=self._prompt_field(prompts, "to_agent", "prompts"),
            give_up=self._text(raw, "give_up", None),
            max_failures=max_failures,
        )
        for field_name in ("start", "agent", "after_hours_agent", "give_up"):
            target = getattr(flow, field_name)
            if target not in nodes:
                raise self.fail(f"names node {target!r}, which does not exist", field=field_name)
        return flow

    def node(self, node_id: str, body: object) -> Node:
        if not isinstance(body, dict):
            raise self.fail("must be a mapping with a 'kind'", node_id)
        kind = body.get("kind")
        if kind not in NODE_KINDS:
            raise self.fail(f"must be one of {', '.join(NODE_KINDS)}", node_id, "kind")
        self._no_unknown(body, FIELDS[kind] | {"kind"}, node_id)
        for name in REQUIRED[kind]:
            if body.get(name) in (None, "", {}):
                raise self.fail(f"is required for a {kind} node", node_id, name)
        return Node(
            id=node_id,
            kind=kind,
            prompt=self._prompt(body, node_id),
            invalid=self._as_prompt(body.get("invalid"), node_id, "invalid"),
            next=self._opt_text(body, "next", node_id),
            options=self._options(body, node_id, kind),
            speech=self._speech(body, node_id),
            validator=self._validator(body, node_id),
            store=self._opt_text(body, "store", node_id),
            optional=self._flag(body, "optional", node_id),
            confirm=self._as_prompt(body.get("confirm"), node_id, "confirm"),
            pick=self._as_prompt(body.get("pick"), node_id, "pick"),
            unknown=self._flag(body, "unknown", node_id),
            max_length=self._int(body, "max_length", node_id, None, 5, 3600),
            action=self._opt_text(body, "action", node_id),
            results=self._results(body, node_id),
            open=self._opt_text(body, "open", node_id),
            closed=self._opt_text(body, "closed", node_id),
            queue=self._opt_text(body, "queue", node_id),
            hold=self._as_prompt(body.get("hold"), node_id, "hold"),
            after=self._opt_text(body, "after", node_id),
            hold_audio=self._opt_text(body, "hold_audio", node_id),
            busy=self._opt_text(body, "busy", node_id),
            leave=self._opt_text(body, "leave", node_id),
            max_wait=self._int(body, "max_wait", node_id, None, 30, 3600),
            number=self._opt_text(body, "number", node_id),
            timeout=self._int(body, "timeout", node_id, 30, 5, 120) or 30,
        )

    def hours(self, raw: object) -> BusinessHours:
        if raw is None:
            return BusinessHours(frozenset(range(7)), time(0, 0), time(23, 59, 59),
                                 holidays_closed=False)  # fmt: skip
        if not isinstance(raw, dict):
            raise self.fail("must be a mapping with days, open and close", field="hours")
        self._no_unknown(raw, {"days", "open", "close", "timezone"}, None)
        days = raw.get("days", list(WEEKDAYS[:5]))
        if not isinstance(days, list) or any(d not in WEEKDAYS for d in days):
            raise self.fail(f"days must be a list of {', '.join(WEEKDAYS)}", field="hours")
        opens, closes = self._clock(raw, "open"), self._clock(raw, "close")
        if closes <= opens:
            raise self.fail("close must be after open", field="hours")
        timezone = str(raw.get("timezone", "Asia/Bangkok"))
        return BusinessHours(frozenset(WEEKDAYS.index(d) for d in days), opens, closes, timezone)

    # Field readers -----------------------------------------------------------------------

    def _clock(self, raw: dict[str, Any], name: str) -> time:
        value = raw.get(name)
        if type(value) is int:  # YAML 1.1 reads an unquoted 16:30 as the number 990
            raise self.fail(f"{name} must be quoted, like '16:30'", field="hours")
        try:
            hour, minute = str(value).split(":")
            return time(int(hour), int(minute))
        except ValueError:
            raise self.fail(f"{name} must be a time like '08:30'", field="hours") from None

    def _no_unknown(
        self, raw: dict[str, Any], allowed: set[str] | frozenset[str], node: str | None
    ) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(
                    f"unknown field (allowed: {', '.join(sorted(allowed))})", node, str(key)
                )

    def _text(self, raw: dict[str, Any], name: str, node: str | None) -> str:
        value = raw.get(name)
        if not isinstance(value, str | int) or not str(value).strip():
            raise self.fail("is required and must be text", node, name)
        return str(value)

    def _opt_text(self, raw: dict[str, Any], name: str, node: str) -> str | None:
        value = raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str | int):
            raise self.fail("must be text", node, name)
        return str(value)

    def _flag(self, raw: dict[str, Any], name: str, node: str) -> bool:
        # bool("false") is True: a quoted "false" would silently make a question skippable.
        value = raw.get(name, False)
        if not isinstance(value, bool):
            raise self.fail("must be true or false", node, name)
        return value

    def _int(
        self, raw: dict[str, Any], name: str, node: str, default: int | None, low: int, high: int
    ) -> int | None:
        value = raw.get(name, default)
        if value is None:
            return None
        if type(value) is not int or not low <= value <= high:  # bool is an int too
            raise self.fail(f"must be a whole number from {low} to {high}", node, name)
        return value

    def _prompt(self, body: dict[str, Any], node: str) -> Prompt:
        text, audio = body.get("say", ""), body.get("audio")
        if not isinstance(text, str) or (audio is not None and not isinstance(audio, str)):
            raise self.fail("must be text", node, "say" if not isinstance(text, str) else "audio")
        return Prompt(text.strip(), audio)

    def _as_prompt(self, value: object, node: str, name: str) -> Prompt:
        if value is None:
            return Prompt()
        if not isinstance(value, str):
            raise self.fail("must be text", node, name)
        return Prompt(value.strip())

    def _prompt_field(self, prompts: dict[str, Any], name: str, where: str) -> Prompt:
        value = prompts.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"needs a {name!r} prompt", field=where)
        return Prompt(value.strip())

    def _options(self, body: dict[str, Any], node: str, kind: str) -> dict[str, Choice]:
        raw = body.get("options")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail("must map keys to nodes", node, "options")
        options: dict[str, Choice] = {}
        for key, value in raw.items():
            digit = str(key)
            allowed = SURVEY_KEYS if kind == "survey" else KEYS
            if digit not in allowed:
                keys = "".join(sorted(allowed))
                message = f"key {digit!r} is not one of {keys} (0 and * are agent and repeat)"
                raise self.fail(message, node, "options")
            options[digit] = self._choice(value, node, digit)
        return options

    def _choice(self, value: object, node: str, digit: str) -> Choice:
        if isinstance(value, str):
            return Choice(value)
        if isinstance(value, dict) and isinstance(value.get("next"), str):
            sets = value.get("set", {})
            if not isinstance(sets, dict) or set(value) - {"next", "set"}:
                raise self.fail(
                    f"option {digit}: use 'next' and an optional 'set' mapping", node, "options"
                )
            return Choice(value["next"], {str(k): str(v) for k, v in sets.items()})
        raise self.fail(f"option {digit}: give a node id or {{next, set}}", node, "options")

    def _speech(self, body: dict[str, Any], node: str) -> dict[str, str]:
        raw = body.get("speech")
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
            raise self.fail("must map spoken Thai keywords to option keys", node, "speech")
        return {k.strip(): str(v) for k, v in raw.items()}

    def _validator(self, body: dict[str, Any], node: str) -> str | None:
        value = body.get("validator")
        if value is not None and value not in VALIDATORS:
            raise self.fail(
                f"unknown validator {value!r} (known: {', '.join(VALIDATORS)})", node, "validator"
            )
        return value if value is None else str(value)

    def _results(self, body: dict[str, Any], node: str) -> dict[str, str]:
        raw = body.get("results")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail("must map action results to nodes", node, "results")
        return {str(k): str(v) for k, v in raw.items()}
