"""The flow loader: every schema error names the file, the node and the field."""

from __future__ import annotations

import copy
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr_flows.loader import FlowError, load_flow, parse_flow
from ivr_flows.model import NODE_KINDS, Choice

MINIMAL: dict[str, Any] = {
    "name": "test",
    "start": "main",
    "agent": "agent",
    "give_up": "bye",
    "prompts": {"no_input": "ไม่ได้ยินค่ะ", "invalid": "กดไม่ถูกต้องค่ะ", "to_agent": "โอนสายค่ะ"},
    "nodes": {
        "main": {"kind": "menu", "say": "ลาก่อน กด 1 ค่ะ", "options": {"1": "bye"}},
        "agent": {"kind": "enqueue", "say": "รอสักครู่ค่ะ", "queue": "agents"},
        "bye": {"kind": "hangup", "say": "สวัสดีค่ะ"},
    },
}


def flow_text(**changes: Any) -> str:
    """The minimal flow as YAML, with top-level keys replaced (None removes one)."""
    raw = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return yaml.safe_dump(raw, allow_unicode=True)


def with_node(node_id: str, body: dict[str, Any]) -> str:
    return flow_text(nodes={**MINIMAL["nodes"], node_id: body})


def error_of(text: str) -> FlowError:
    with pytest.raises(FlowError) as info:
        parse_flow(text, "test.yaml")
    return info.value


def test_minimal_flow_loads_with_defaults() -> None:
    flow = parse_flow(flow_text(), "test.yaml")
    assert flow.source == "test.yaml" and flow.start == "main"
    assert flow.after_hours_agent == "agent"  # defaults to the agent
    assert flow.max_failures == 2 and flow.max_total_failures == 6
    assert flow.hours.days == frozenset(range(7))
    assert flow.node("main").options == {"1": Choice("bye")}
    assert flow.no_input.text == "ไม่ได้ยินค่ะ"


def test_the_bundled_1567_flow_loads() -> None:
    flow = load_flow("1567")
    assert flow.name == "1567" and flow.source == "1567.yaml"
    assert (flow.start, flow.agent, flow.after_hours_agent) == (
        "greeting",
        "to_agent",
        "agents_closed",
    )
    assert {node.kind for node in flow.nodes.values()} == set(NODE_KINDS) - {"transfer"}
    # agents answer the national line around the clock (#17): no hours, always open
    assert flow.hours.open == time(0, 0) and flow.hours.close >= time(23, 59)
    assert flow.hours.days == frozenset(range(7))
    assert flow.node("complaint_category").options["1"].sets == {"category": "land"}


def test_errors_name_file_node_and_field() -> None:
    error = error_of(with_node("main", {"kind": "menu", "options": {"1": "bye"}, "nxt": "x"}))
    assert str(error).startswith("test.yaml: node 'main', field 'nxt': unknown field")
    assert (error.source, error.node, error.field) == ("test.yaml", "main", "nxt")


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"kind": "menuu"}, "node 'x', field 'kind': must be one of say, menu"),
        ({"say": "ค่ะ"}, "node 'x', field 'kind': must be one of"),
        ({"kind": "say", "say": "ค่ะ"}, "node 'x', field 'next': is required for a say node"),
        ({"kind": "collect", "validator": "phone", "next": "bye"}, "field 'store': is required"),
        ({"kind": "menu", "options": {}}, "node 'x', field 'options': is required"),
        ({"kind": "hours", "open": "bye"}, "node 'x', field 'closed': is required"),
        ({"kind": "say", "next": "bye", "optionz": {}}, "field 'optionz': unknown field"),
        ({"kind": "hangup", "next": "bye"}, "node 'x', field 'next': unknown field"),
        ("just text", "node 'x': must be a mapping with a 'kind'"),
        ({"kind": "say", "say": 5, "next": "bye"}, "node 'x', field 'say': must be text"),
        ({"kind": "say", "next": ["bye"]}, "node 'x', field 'next': must be text"),
    ],
)
def test_node_schema_errors(node: object, expected: str) -> None:
    assert expected in str(error_of(with_node("x", node)))  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["0", "*", "10", "#"])
def test_menu_keys_0_and_star_are_reserved(key: str) -> None:
    error = error_of(with_node("x", {"kind": "menu", "options": {key: "bye"}}))
    assert f"node 'x', field 'options': key {key!r} is not one of 123456789" in str(error)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"next": "bye", "set": ["a"]}, "option 1: use 'next' and an optional 'set' mapping"),
        ({"next": "bye", "sett": {}}, "option 1: use 'next' and an optional 'set' mapping"),
        ({"goto": "bye"}, "option 1: give a node id or {next, set}"),
        (5, "option 1: give a node id or {next, set}"),
    ],
)
def test_bad_options(option: object, expected: str) -> None:
    error = error_of(with_node("x", {"kind": "menu", "options": {"1": option}}))
    assert f"node 'x', field 'options': {expected}" in str(error)


def test_bad_validator_is_named_with_the_known_ones() -> None:
    body = {"kind": "collect", "validator": "zip", "store": "zip", "next": "bye"}
    message = str(error_of(with_node("postal", body)))
    assert "test.yaml: node 'postal', field 'validator': unknown validator 'zip'" in message
    assert "postal_code" in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("optional", "false", "must be true or false"),  # a quoted false is not False
        ("optional", 1, "must be true or false"),
        ("confirm", ["yes"], "must be text"),
        ("invalid", {"say": "x"}, "must be text"),
    ],
)
def test_bad_collect_fields(field: str, value: object, expected: str) -> None:
    body = {"kind": "collect", "validator": "digits", "store": "n", "next": "bye", field: value}
    assert f"node 'x', field {field!r}: {expected}" in str(error_of(with_node("x", body)))


def test_speech_must_map_keywords() -> None:
    body = {"kind": "menu", "options": {"1": "bye"}, "speech": ["ร้องเรียน"]}
    assert "node 'x', field 'speech': must map spoken Thai" in str(error_of(with_node("x", body)))


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ({"open": "16:30", "close": "08:30"}, "close must be after open"),
        ({"open": "8.30", "close": "16:30"}, "open must be a time like '08:30'"),
        ({"open": "25:00", "close": "26:00"}, "open must be a time like '08:30'"),
        ({"open": "08:30"}, "close must be a time like '08:30'"),
        ({"open": "08:30", "close": 990}, "close must be quoted, like '16:30'"),
        ({"days": ["monday"], "open": "08:30", "close": "16:30"}, "days must be a list of mon"),
        ({"days": "mon", "open": "08:30", "close": "16:30"}, "days must be a list of mon"),
        ("always", "must be a mapping with days, open and close"),
    ],
)
def test_bad_hours(hours: object, expected: str) -> None:
    assert f"test.yaml: field 'hours': {expected}" in str(error_of(flow_text(hours=hours)))


def test_unknown_hours_field_is_named() -> None:
    hours = {"open": "08:30", "close": "16:30", "timezon": "Asia/Bangkok"}
    assert "field 'timezon': unknown field" in str(error_of(flow_text(hours=hours)))


def test_unquoted_times_are_explained() -> None:
    text = flow_text().replace("name: test", "name: test\nhours: {open: '08:30', close: 16:30}")
    assert "field 'hours': close must be quoted, like '16:30'" in str(error_of(text))


def test_good_hours() -> None:
    hours = {"days": ["mon", "sat"], "open": "08:30", "close": "16:30"}
    flow = parse_flow(flow_text(hours=hours), "test.yaml")
    assert flow.hours.days == frozenset({0, 5}) and flow.hours.timezone == "Asia/Bangkok"


def test_bad_yaml() -> None:
    error = error_of("name: test\nnodes: {main: [unclosed\n")
    assert str(error).startswith("test.yaml: not valid YAML")
    assert error.node is None and error.field is None


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "", "42\n"])
def test_root_must_be_a_mapping(text: str) -> None:
    assert "test.yaml: the file must hold a mapping" in str(error_of(text))


@pytest.mark.parametrize("field", ["start", "agent", "after_hours_agent", "give_up"])
def test_flow_targets_must_exist(field: str) -> None:
    error = error_of(flow_text(**{field: "nowhere"}))
    assert str(error) == (f"test.yaml: field {field!r}: names node 'nowhere', which does not exist")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"start": None}, "field 'start': is required and must be text"),
        ({"name": ""}, "field 'name': is required and must be text"),
        ({"nodes": {}}, "field 'nodes': must be a non-empty mapping"),
        ({"nodes": ["main"]}, "field 'nodes': must be a non-empty mapping"),
        ({"prompts": {"no_input": "x", "to_agent": "y"}}, "needs a 'invalid' prompt"),
        ({"prompts": ["x"]}, "field 'prompts': must be a mapping"),
        ({"max_failures": 4}, "field 'max_failures': must be 1, 2 or 3"),
        ({"max_failures": True}, "field 'max_failures': must be 1, 2 or 3"),
        ({"agentt": "agent"}, "field 'agentt': unknown field"),
    ],
)
def test_flow_level_errors(changes: dict[str, Any], expected: str) -> None:
    assert expected in str(error_of(flow_text(**changes)))


def test_missing_file_is_a_flow_error(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match=r"missing\.yaml: cannot read the file"):
        load_flow(str(tmp_path / "missing.yaml"))
