"""Draw a flow as a Mermaid flowchart, so a reviewer can see the whole call at a glance.

Shapes follow the node kind; edges carry the key or result that leads there. The failure routes
every menu shares (second failure or 0 to an agent) are drawn once, from a ``failures``
pseudo-node, rather than from each node, which would bury the real paths.
"""

from __future__ import annotations

import re

from ivr_flows.model import Flow, Node

# Opening and closing brackets of each node kind's shape; rectangles for the rest.
SHAPES: dict[str, tuple[str, str]] = {
    "menu": ("{", "}"),
    "collect": ("[/", "/]"),
    "record": ("[/", "/]"),
    "action": ("[[", "]]"),
    "hangup": ("([", "])"),
}
RECTANGLE = ("[", "]")
FAILURES = "failures"
FAILURE_LABEL = "2nd failure / 0"
GIVE_UP_LABEL = "too many failures"
_UNSAFE = re.compile(r"[^0-9A-Za-z]")


def to_mermaid(flow: Flow) -> str:
    """The flow as Mermaid ``flowchart TD`` text (ends with a newline)."""
    ids = mermaid_ids(flow)
    lines = ["flowchart TD"]
    lines += [_node_line(node, ids[node.id]) for node in flow.nodes.values()]
    for node in flow.nodes.values():
        for via, target in node.targets().items():
            lines.append(_edge(ids[node.id], _id_of(target, ids), _edge_label(via)))
    lines += _failure_lines(flow, ids)
    return "\n".join(lines) + "\n"


def mermaid_ids(flow: Flow) -> dict[str, str]:
    """A Mermaid-safe, unique id per node (Thai ids would otherwise all become underscores)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node_id in flow.nodes:
        base = _safe(node_id)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        ids[node_id] = candidate
        taken.add(candidate)
    return ids


def _safe(node_id: str) -> str:
    return "n_" + _UNSAFE.sub("_", node_id)


def _id_of(target: str, ids: dict[str, str]) -> str:
    """A target missing from the flow still gets drawn, so the linter's complaint is visible."""
    return ids.get(target) or _safe(target)


def _label(text: str) -> str:
    """Quote a label; Mermaid has no backslash escapes, only HTML-like entities."""
    return '"' + text.replace('"', "#quot;") + '"'


def _node_line(node: Node, mermaid_id: str) -> str:
    opening, closing = SHAPES.get(node.kind, RECTANGLE)
    return f"    {mermaid_id}{opening}{_label(f'{node.id} ({node.kind})')}{closing}"


def _edge_label(via: str) -> str:
    """``options.1`` and ``results.ok`` are drawn as ``1`` and ``ok``."""
    return via.split(".", 1)[1] if "." in via else via


def _edge(source: str, target: str, label: str, *, dashed: bool = False) -> str:
    arrow = "-.->" if dashed else "-->"
    return f"    {source} {arrow}|{_label(label)}| {target}"


def _failure_lines(flow: Flow, ids: dict[str, str]) -> list[str]:
    lines = [f"    {FAILURES}(({_label(FAILURES)}))"]
    for agent in dict.fromkeys((flow.agent, flow.after_hours_agent)):
        if agent:
            lines.append(_edge(FAILURES, _id_of(agent, ids), FAILURE_LABEL, dashed=True))
    if flow.give_up:
        lines.append(_edge(FAILURES, _id_of(flow.give_up, ids), GIVE_UP_LABEL, dashed=True))
    return lines
