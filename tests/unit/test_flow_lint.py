"""The flow linter: each rule on a small flow, and the bundled 1567 flow is clean."""

from __future__ import annotations

from dataclasses import replace
from textwrap import dedent, indent

import pytest

from ivr_flows.lint import ACTION_VARS, VALIDATOR_VARS, LintIssue, lint_flow
from ivr_flows.loader import VALIDATORS, load_flow, parse_flow
from ivr_flows.model import Flow, Prompt

KNOWN_ACTIONS = frozenset(ACTION_VARS)
HEAD = """\
name: test
start: main
agent: agent
give_up: bye
prompts: {no_input: "ไม่ได้ยินค่ะ", invalid: "กดไม่ถูกต้องค่ะ", to_agent: "โอนสายค่ะ"}
nodes:
  agent: {kind: enqueue, say: "รอสักครู่ค่ะ", queue: agents}
  bye: {kind: hangup, say: "สวัสดีค่ะ"}
"""
MAIN = """\
main:
  kind: menu
  say: "ลาก่อน กด 1 ค่ะ"
  options: {"1": bye}
"""


def flow_of(nodes: str, head: str = HEAD) -> Flow:
    """A flow with the agent and goodbye nodes plus ``nodes`` (YAML, without indentation)."""
    return parse_flow(head + indent(dedent(nodes), "  "), "test.yaml")


def issues_of(nodes: str, known_actions: frozenset[str] | None = KNOWN_ACTIONS) -> list[str]:
    return [str(issue) for issue in lint_flow(flow_of(nodes), known_actions)]


def test_the_bundled_flow_is_clean() -> None:
    assert lint_flow(load_flow("1567"), KNOWN_ACTIONS) == []


def test_the_minimal_flow_is_clean() -> None:
    # The agent and goodbye are reached only through the failure routes every menu has.
    assert issues_of(MAIN) == []


def test_issue_reads_like_a_loader_error() -> None:
    assert (
        str(LintIssue("1567.yaml", "x", "next", "bad")) == "1567.yaml: node 'x', field 'next': bad"
    )
    assert str(LintIssue("1567.yaml", "x", None, "bad")) == "1567.yaml: node 'x': bad"
    assert str(LintIssue("1567.yaml", None, "agent", "bad")) == "1567.yaml: field 'agent': bad"
    assert str(LintIssue("1567.yaml", None, None, "bad")) == "1567.yaml: bad"


def test_the_tables_cover_every_validator() -> None:
    assert set(VALIDATOR_VARS) == set(VALIDATORS)


# Targets and reachability ---------------------------------------------------------------


def test_unknown_node_targets() -> None:
    nodes = """\
        main:
          kind: menu
          say: "กด 1 หรือ 2 ค่ะ"
          options: {"1": bye, "2": {next: nowhere, set: {a: b}}}
        """
    assert issues_of(nodes) == [
        "test.yaml: node 'main', field 'options.2': names node 'nowhere', which does not exist"
    ]


def test_unknown_action_result_target() -> None:
    nodes = MAIN + "act: {kind: action, action: file_ticket, results: {ok: gone}}\n"
    issues = issues_of(nodes.replace('"1": bye', '"1": act'))
    assert issues == [
        "test.yaml: node 'act', field 'results.ok': names node 'gone', which does not exist"
    ]


def test_unknown_flow_level_target() -> None:
    flow = replace(flow_of(MAIN), give_up="gone")
    issues = [str(i) for i in lint_flow(flow)]
    assert "test.yaml: field 'give_up': names node 'gone', which does not exist" in issues


def test_unreachable_node() -> None:
    issues = issues_of(MAIN + 'orphan: {kind: say, say: "ค่ะ", next: bye}\n')
    assert issues == ["test.yaml: node 'orphan': cannot be reached from 'main'"]


def test_reachability_follows_actions_queues_and_hours() -> None:
    nodes = """\
        main:
          kind: menu
          say: "กด 1 ค่ะ"
          options: {"1": when}
        when: {kind: hours, open: act, closed: bye}
        act: {kind: action, action: lookup_status, results: {not_found: bye}}
        """
    head = HEAD.replace("queue: agents}", "queue: agents, after: thanks}")
    flow = flow_of(nodes + 'thanks: {kind: say, say: "ขอบคุณค่ะ", next: bye}\n', head)
    assert lint_flow(flow, KNOWN_ACTIONS) == []


def test_a_flow_with_no_interactive_node_reaches_no_agent() -> None:
    head = HEAD.replace("start: main", "start: hello")
    flow = flow_of('hello: {kind: say, say: "ค่ะ", next: bye}\n', head)
    assert [str(i) for i in lint_flow(flow)] == [
        "test.yaml: node 'agent': cannot be reached from 'hello'"
    ]


# Menus ----------------------------------------------------------------------------------


def test_at_most_five_options() -> None:
    five = ", ".join(f'"{k}": bye' for k in "12345")
    assert issues_of(MAIN.replace('"1": bye', five)) == []
    six = ", ".join(f'"{k}": bye' for k in "123456")
    assert issues_of(MAIN.replace('"1": bye', six)) == [
        "test.yaml: node 'main', field 'options': has 6 options; callers remember at most 5"
        " (0 for an agent comes on top)"
    ]


def test_speech_keywords_must_map_to_an_option_or_0() -> None:
    speech = '  speech: {ลาก่อน: "1", เจ้าหน้าที่: "0", ฟังอีกครั้ง: "*", ร้องเรียน: "2"}\n'
    assert issues_of(MAIN + speech) == [
        "test.yaml: node 'main', field 'speech': keyword 'ร้องเรียน' maps to key '2',"
        " which is not an option or 0"
    ]


# Prompts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "node",
    [
        "{kind: menu, options: {'1': bye}}",
        "{kind: collect, validator: digits, store: n, next: bye}",
        "{kind: record, store: rec, next: bye}",
        "{kind: survey, store: csat, next: bye}",
        "{kind: transfer, number: '+6621234567', next: bye}",
        "{kind: say, next: bye}",
    ],
)
def test_nodes_that_speak_need_a_prompt(node: str) -> None:
    kind = node.split(",")[0].removeprefix("{kind: ")
    nodes = MAIN.replace('"1": bye', '"1": x') + f"x: {node}\n"
    assert issues_of(nodes) == [
        f"test.yaml: node 'x', field 'say': this {kind} node says nothing: give it 'say' or 'audio'"
    ]


def test_hangup_and_enqueue_need_a_prompt() -> None:
    head = HEAD.replace(' say: "รอสักครู่ค่ะ",', "").replace(', say: "สวัสดีค่ะ"', "")
    issues = [str(i) for i in lint_flow(flow_of(MAIN, head))]
    assert issues == [
        "test.yaml: node 'agent', field 'say': this enqueue node says nothing: give it 'say' or"
        " 'audio'",
        "test.yaml: node 'bye', field 'say': this hangup node says nothing: give it 'say' or"
        " 'audio'",
    ]


def test_an_audio_file_is_a_prompt() -> None:
    assert issues_of(MAIN.replace('say: "ลาก่อน กด 1 ค่ะ"', "audio: main.wav")) == []


def test_flow_prompts_for_silence_and_wrong_keys() -> None:
    flow = replace(flow_of(MAIN), no_input=Prompt(), invalid=Prompt())
    assert [str(i) for i in lint_flow(flow)] == [
        "test.yaml: field 'prompts': needs a 'no_input' prompt",
        "test.yaml: field 'prompts': needs a 'invalid' prompt",
    ]


def test_variables_the_flow_provides() -> None:
    nodes = """\
        main:
          kind: menu
          say: "กด 1 ค่ะ"
          options: {"1": {next: postal, set: {category: land}}}
        postal:
          kind: collect
          say: "เรื่อง{category} กดรหัสไปรษณีย์ค่ะ"
          validator: postal_code
          store: postal
          confirm: "พื้นที่{postal_place} {postal} ถูกต้อง กด 1 ค่ะ"
          next: file
        file: {kind: action, action: file_ticket, results: {ok: filed}}
        filed: {kind: say, say: "เลขที่ {ticket_digits} ลำดับ {queue_position} ค่ะ", next: bye}
        """
    assert issues_of(nodes) == []


def test_unknown_variables_are_named() -> None:
    nodes = """\
        main:
          kind: menu
          say: "กด 1 ค่ะ {status_text}"
          invalid: "ขออภัย {caller_name}"
          options: {"1": bye}
        """
    assert issues_of(nodes) == [
        "test.yaml: node 'main', field 'say': uses {status_text}, which the flow never provides",
        "test.yaml: node 'main', field 'invalid': uses {caller_name}, which the flow never"
        " provides",
    ]


def test_variables_in_the_flow_prompts_and_hold_music() -> None:
    head = HEAD.replace('to_agent: "โอนสายค่ะ"', 'to_agent: "โอนสาย {who}"').replace(
        "queue: agents}", 'queue: agents, hold: "ลำดับ {position}"}'
    )
    issues = [str(i) for i in lint_flow(flow_of(MAIN, head))]
    assert issues == [
        "test.yaml: field 'prompts.to_agent': uses {who}, which the flow never provides",
        "test.yaml: node 'agent', field 'hold': uses {position}, which the flow never provides",
    ]


@pytest.mark.parametrize("text", ["กด {1 ค่ะ", "กด } ค่ะ"])
def test_broken_templates(text: str) -> None:
    issues = issues_of(MAIN.replace("ลาก่อน กด 1 ค่ะ", text))
    assert len(issues) == 1
    assert issues[0].startswith("test.yaml: node 'main', field 'say': is not a valid prompt")


@pytest.mark.parametrize("name", ["", "0", "ticket.number", "a[0]"])
def test_positional_and_dotted_fields_are_unknown(name: str) -> None:
    issues = issues_of(MAIN.replace("ลาก่อน กด 1 ค่ะ", f"กด {{{name}}} ค่ะ"))
    assert issues == [
        f"test.yaml: node 'main', field 'say': uses {{{name}}}, which the flow never provides"
    ]


# Collect, actions, agents ---------------------------------------------------------------


def test_collect_needs_a_validator() -> None:
    nodes = MAIN.replace('"1": bye', '"1": n') + (
        'n: {kind: collect, say: "กดค่ะ", validator: digits, store: n, next: bye}\n'
    )
    flow = flow_of(nodes)
    flow = replace(flow, nodes={**flow.nodes, "n": replace(flow.node("n"), validator=None)})
    assert [str(i) for i in lint_flow(flow)] == [
        "test.yaml: node 'n', field 'validator': a collect node needs a validator"
    ]


def test_unknown_actions_only_when_the_known_ones_are_given() -> None:
    nodes = MAIN.replace('"1": bye', '"1": act') + "act: {kind: action, action: fax, next: bye}\n"
    assert issues_of(nodes, None) == []
    [issue] = issues_of(nodes)
    assert issue.startswith("test.yaml: node 'act', field 'action': unknown action 'fax' (known:")
    assert "file_ticket" in issue


def test_interactive_nodes_need_an_agent() -> None:
    flow = flow_of(MAIN)
    nodes = {k: v for k, v in flow.nodes.items() if k != "agent"}
    issues = [str(i) for i in lint_flow(replace(flow, nodes=nodes))]
    assert issues == [
        "test.yaml: field 'agent': names node 'agent', which does not exist",
        "test.yaml: field 'after_hours_agent': names node 'agent', which does not exist",
        "test.yaml: node 'main': a caller who fails or presses 0 has no agent to reach"
        " ('agent' missing)",
    ]


# Loops without the caller ----------------------------------------------------------------


def test_say_loop() -> None:
    nodes = """\
        main:
          kind: menu
          say: "กด 1 ค่ะ"
          options: {"1": a}
        a: {kind: say, say: "หนึ่ง", next: b}
        b: {kind: say, say: "สอง", next: a}
        """
    assert issues_of(nodes) == [
        "test.yaml: node 'a': say/hours/action nodes 'a', 'b' loop without waiting for the caller"
    ]


def test_self_loop_and_loop_through_hours_and_action() -> None:
    nodes = """\
        main:
          kind: menu
          say: "กด 1 หรือ 2 ค่ะ"
          options: {"1": again, "2": when}
        again: {kind: say, say: "อีกครั้ง", next: again}
        when: {kind: hours, open: act, closed: bye}
        act: {kind: action, action: lookup_status, results: {ok: told}}
        told: {kind: say, say: "แจ้งแล้วค่ะ", next: when}
        """
    assert issues_of(nodes) == [
        "test.yaml: node 'again': say/hours/action nodes 'again' loop without waiting for the"
        " caller",
        "test.yaml: node 'when': say/hours/action nodes 'when', 'act', 'told' loop without"
        " waiting for the caller",
    ]


def test_a_loop_through_a_menu_is_fine() -> None:
    nodes = """\
        main:
          kind: menu
          say: "ฟังอีกครั้ง กด 1 ค่ะ"
          options: {"1": info}
        info: {kind: say, say: "ข้อมูลค่ะ", next: main}
        """
    assert issues_of(nodes) == []


def test_the_linter_knows_exactly_the_actions_and_validators_the_application_has() -> None:
    from hotline.twilio.actions import ACTIONS, VALIDATORS
    from ivr_flows.lint import ACTION_VARS, VALIDATOR_VARS
    from ivr_flows.loader import VALIDATORS as SCHEMA_VALIDATORS

    assert set(ACTIONS) == set(ACTION_VARS)
    assert set(VALIDATORS) == set(VALIDATOR_VARS) == set(SCHEMA_VALIDATORS)
