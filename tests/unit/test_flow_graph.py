"""The Mermaid drawing of a flow: shapes by kind, labelled edges, safe ids."""

from __future__ import annotations

import re

from ivr_flows.graph import mermaid_ids, to_mermaid
from ivr_flows.loader import load_flow, parse_flow

FLOW = """\
name: test
start: hello
agent: agent
after_hours_agent: closed_menu
give_up: bye
prompts: {no_input: "ไม่ได้ยินค่ะ", invalid: "กดไม่ถูกต้องค่ะ", to_agent: "โอนสายค่ะ"}
nodes:
  hello: {kind: say, say: "สวัสดีค่ะ", next: when}
  when: {kind: hours, open: main, closed: closed_menu}
  main:
    kind: menu
    say: "ร้องเรียน กด 1 ค่ะ"
    options: {"1": postal, "2": {next: rec, set: {category: land}}}
  postal: {kind: collect, say: "รหัสค่ะ", validator: postal_code, store: postal, next: file}
  rec: {kind: record, say: "เล่าเรื่องค่ะ", store: rec, next: file}
  file: {kind: action, action: file_ticket, results: {ok: bye, failed: agent}}
  agent: {kind: enqueue, say: "รอค่ะ", queue: agents, after: bye}
  closed_menu: {kind: menu, say: "นอกเวลาค่ะ", options: {"1": main}}
  bye: {kind: hangup, say: "ลาก่อนค่ะ"}
"""


def mermaid() -> str:
    return to_mermaid(parse_flow(FLOW, "test.yaml"))


def test_starts_with_the_diagram_kind() -> None:
    text = mermaid()
    assert text.startswith("flowchart TD\n") and text.endswith("\n")


def test_shapes_follow_the_kind() -> None:
    lines = mermaid().splitlines()
    for expected in (
        '    n_hello["hello (say)"]',
        '    n_when["when (hours)"]',
        '    n_main{"main (menu)"}',
        '    n_postal[/"postal (collect)"/]',
        '    n_rec[/"rec (record)"/]',
        '    n_file[["file (action)"]]',
        '    n_agent["agent (enqueue)"]',
        '    n_bye(["bye (hangup)"])',
    ):
        assert expected in lines


def test_edges_carry_the_key_or_result() -> None:
    lines = mermaid().splitlines()
    for expected in (
        '    n_hello -->|"next"| n_when',
        '    n_when -->|"open"| n_main',
        '    n_when -->|"closed"| n_closed_menu',
        '    n_main -->|"1"| n_postal',
        '    n_main -->|"2"| n_rec',
        '    n_file -->|"ok"| n_bye',
        '    n_file -->|"failed"| n_agent',
        '    n_agent -->|"after"| n_bye',
    ):
        assert expected in lines


def test_failure_routes_are_drawn_once_dashed() -> None:
    text = mermaid()
    assert '    failures(("failures"))' in text.splitlines()
    assert '    failures -.->|"2nd failure / 0"| n_agent' in text
    assert '    failures -.->|"2nd failure / 0"| n_closed_menu' in text
    assert '    failures -.->|"too many failures"| n_bye' in text
    assert text.count("-.->") == 3


def test_same_agent_day_and_night_gets_one_edge() -> None:
    text = to_mermaid(parse_flow(FLOW.replace("after_hours_agent: closed_menu", ""), "t.yaml"))
    assert text.count("2nd failure / 0") == 1


def test_every_node_appears() -> None:
    flow = load_flow("1567")
    text = to_mermaid(flow)
    declared = set(re.findall(r"^    (n_\w+)[\[{(]", text, flags=re.MULTILINE))
    assert declared == {f"n_{node_id}" for node_id in flow.nodes}
    assert text.count(" -->|") == sum(len(node.targets()) for node in flow.nodes.values())


def test_ids_are_safe_and_unique_and_quotes_are_escaped() -> None:
    flow = parse_flow(
        FLOW.replace("  bye:", '  "บาย ค่ะ":')
        .replace("give_up: bye", 'give_up: "บาย ค่ะ"')
        .replace(": bye", ': "บาย ค่ะ"')
        .replace("  hello:", '  "ลา-ก่อน":')
        .replace("start: hello", 'start: "ลา-ก่อน"')
        + '  say "hi": {kind: say, say: "hi", next: main}\n',
        "t.yaml",
    )
    ids = mermaid_ids(flow)
    assert all(re.fullmatch(r"n_\w+", mermaid_id, flags=re.ASCII) for mermaid_id in ids.values())
    assert len(set(ids.values())) == len(ids)
    assert ids["ลา-ก่อน"] == "n_" + "_" * 7  # seven characters, none of them ASCII letters
    assert ids["บาย ค่ะ"] == ids["ลา-ก่อน"] + "_2"  # the same shape, made unique
    text = to_mermaid(flow)
    quoted = ids['say "hi"']
    assert quoted + '["say #quot;hi#quot; (say)"]' in text
    for line in text.splitlines()[1:]:
        assert line.count('"') % 2 == 0, line
