"""Check a loaded flow for mistakes the schema cannot see.

The loader rejects files that do not match the schema; the linter looks at the flow as a graph
and at what callers will hear: dead ends, unreachable nodes, prompts naming data the call never
gets, menus too long to remember, loops that never wait for the caller. Each issue names the
file, the node and the field, in the same words as the loader's errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from string import Formatter

from ivr_flows.model import Flow, Node, Prompt

# Call data each validator adds when it accepts the caller's digits.
VALIDATOR_VARS: Mapping[str, frozenset[str]] = {
    "postal_code": frozenset({"postal_place", "province_code", "district_code", "postal_code"}),
    "citizen_id": frozenset({"citizen_id_spoken"}),
    "ticket_number": frozenset({"ticket_query_spoken"}),
    "phone": frozenset({"phone_spoken"}),
    "digits": frozenset({"digits_spoken"}),
}
# Call data each application action adds; its keys are the actions the application knows.
ACTION_VARS: Mapping[str, frozenset[str]] = {
    "file_ticket": frozenset({"ticket_number", "ticket_digits"}),
    "request_ticket_sms": frozenset(),
    "lookup_status": frozenset({"ticket_number", "ticket_digits", "status_text", "status_date"}),
    "lookup_center": frozenset({"center_name", "center_place"}),
}
RECORDING_PARTS = ("sid", "url", "duration")
# Filled in by the hold music of a queue, and by the engine when a value names several places.
# ``hours`` and ``retention`` are filled in when the process starts (render.with_constants).
ALWAYS_VARS = frozenset({"queue_position", "queue_wait", "choices", "hours", "retention"})

MAX_MENU_OPTIONS = 5  # Thai voice rules: at most 5 options, 0 reaches an agent
INTERACTIVE = frozenset({"menu", "collect", "survey", "record"})  # may fail to an agent
NEEDS_PROMPT = frozenset(
    {"menu", "collect", "survey", "record", "transfer", "say", "hangup", "enqueue"}
)
PASSIVE = frozenset({"say", "hours", "action"})  # never wait for the caller
SPEECH_SPECIAL_KEYS = frozenset({"0", "*"})  # agent and repeat work in every menu


@dataclass(frozen=True, slots=True)
class LintIssue:
    """One finding, located like a loader error so editors fix both the same way."""

    source: str
    node: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.node is not None:
            where += f": node {self.node!r}"
        if self.field is not None:
            where += (
                f", field {self.field!r}" if self.node is not None else f": field {self.field!r}"
            )
        return f"{where}: {self.message}"


def lint_flow(flow: Flow, known_actions: frozenset[str] | None = None) -> list[LintIssue]:
    """Every issue found in ``flow``, in a stable order; ``known_actions=None`` skips actions."""
    issues: list[LintIssue] = []
    issues += _unknown_targets(flow)
    issues += _unreachable(flow)
    issues += _global_prompts(flow)
    issues += _missing_agents(flow)
    for node in flow.nodes.values():
        issues += _node_issues(flow, node, known_actions)
    issues += _prompt_vars(flow)
    issues += _passive_loops(flow)
    return issues


def _issue(flow: Flow, node: str | None, field: str | None, message: str) -> LintIssue:
    return LintIssue(flow.source, node, field, message)


# The graph ------------------------------------------------------------------------------


def _flow_targets(flow: Flow) -> dict[str, str]:
    return {
        "start": flow.start,
        "agent": flow.agent,
        "after_hours_agent": flow.after_hours_agent,
        "give_up": flow.give_up,
    }


def _agents(flow: Flow) -> tuple[str, ...]:
    return (flow.agent, flow.after_hours_agent)


def _successors(flow: Flow, node: Node) -> list[str]:
    """Where the engine may go from ``node``, including the routes the YAML does not spell out."""
    found = list(node.targets().values())
    if node.kind in INTERACTIVE:
        found += [*_agents(flow), flow.give_up]  # 0, or too many failures
    elif _falls_back_to_agent(node):
        found += _agents(flow)
    return [target for target in found if target in flow.nodes]


def _falls_back_to_agent(node: Node) -> bool:
    """The engine sends the caller to an agent when a node leaves its way on unsaid."""
    if node.kind == "action":
        return True  # a result without a branch
    if node.kind in ("say", "transfer"):
        return not node.next
    return node.kind == "hours" and not (node.open and node.closed)


def _passive_successors(flow: Flow, node: Node) -> list[str]:
    """Nodes entered straight after a passive one, without asking the caller anything."""
    return [t for t in _successors(flow, node) if flow.nodes[t].kind in PASSIVE]


def _unknown_targets(flow: Flow) -> Iterator[LintIssue]:
    for name, target in _flow_targets(flow).items():
        if target not in flow.nodes:
            yield _issue(flow, None, name, f"names node {target!r}, which does not exist")
    for node in flow.nodes.values():
        for name, target in node.targets().items():
            if target not in flow.nodes:
                yield _issue(flow, node.id, name, f"names node {target!r}, which does not exist")


def _unreachable(flow: Flow) -> Iterator[LintIssue]:
    if flow.start not in flow.nodes:
        return  # already reported as an unknown target
    seen = {flow.start}
    todo = [flow.start]
    while todo:
        for target in _successors(flow, flow.nodes[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for node_id in flow.nodes:
        if node_id not in seen:
            yield _issue(flow, node_id, None, f"cannot be reached from {flow.start!r}")


def _passive_loops(flow: Flow) -> Iterator[LintIssue]:
    """Cycles of say/hours/action nodes: the call would go round for ever in silence or noise."""
    for members in _strongly_connected(flow):
        first = flow.nodes[members[0]]
        if len(members) > 1 or first.id in _passive_successors(flow, first):
            names = ", ".join(repr(m) for m in members)
            message = f"say/hours/action nodes {names} loop without waiting for the caller"
            yield _issue(flow, first.id, None, message)


def _strongly_connected(flow: Flow) -> list[list[str]]:
    """Tarjan's components of the passive sub-graph, each listed in flow order."""
    order = {node_id: i for i, node_id in enumerate(flow.nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node_id: str) -> None:
        index[node_id] = low[node_id] = len(index)
        stack.append(node_id)
        on_stack.add(node_id)
        for target in _passive_successors(flow, flow.nodes[node_id]):
            if target not in index:
                visit(target)
                low[node_id] = min(low[node_id], low[target])
            elif target in on_stack:
                low[node_id] = min(low[node_id], index[target])
        if low[node_id] == index[node_id]:
            members: list[str] = []
            while not members or members[-1] != node_id:
                members.append(stack.pop())
                on_stack.discard(members[-1])
            found.append(sorted(members, key=order.__getitem__))

    for node in flow.nodes.values():
        if node.kind in PASSIVE and node.id not in index:
            visit(node.id)
    return sorted(found, key=lambda members: order[members[0]])


# Flow-wide rules ------------------------------------------------------------------------


def _global_prompts(flow: Flow) -> Iterator[LintIssue]:
    """Silence and wrong keys must always be answered (Thai voice rules)."""
    for name, prompt in (("no_input", flow.no_input), ("invalid", flow.invalid)):
        if not prompt:
            yield _issue(flow, None, "prompts", f"needs a {name!r} prompt")


def _missing_agents(flow: Flow) -> Iterator[LintIssue]:
    """After the second failure the caller reaches an agent: that node must exist."""
    missing = [agent for agent in dict.fromkeys(_agents(flow)) if agent not in flow.nodes]
    if not missing:
        return
    names = " and ".join(repr(m) for m in missing)
    for node in flow.nodes.values():
        if node.kind in INTERACTIVE:
            message = f"a caller who fails or presses 0 has no agent to reach ({names} missing)"
            yield _issue(flow, node.id, None, message)


# Node rules -----------------------------------------------------------------------------


def _node_issues(flow: Flow, node: Node, known_actions: frozenset[str] | None) -> list[LintIssue]:
    issues: list[LintIssue] = []
    if node.kind in NEEDS_PROMPT and not node.prompt:
        issues.append(
            _issue(
                flow,
                node.id,
                "say",
                f"this {node.kind} node says nothing: give it 'say' or 'audio'",
            )
        )
    if node.kind == "menu":
        issues += _menu_issues(flow, node)
    if node.kind == "collect" and not node.validator:
        issues.append(_issue(flow, node.id, "validator", "a collect node needs a validator"))
    if node.kind == "action" and known_actions is not None and node.action not in known_actions:
        known = ", ".join(sorted(known_actions))
        message = f"unknown action {node.action!r} (known: {known})"
        issues.append(_issue(flow, node.id, "action", message))
    return issues


def _menu_issues(flow: Flow, node: Node) -> Iterator[LintIssue]:
    if len(node.options) > MAX_MENU_OPTIONS:
        message = (
            f"has {len(node.options)} options; callers remember at most {MAX_MENU_OPTIONS}"
            " (0 for an agent comes on top)"
        )
        yield _issue(flow, node.id, "options", message)
    for keyword, key in node.speech.items():
        if key not in node.options and key not in SPEECH_SPECIAL_KEYS:
            message = f"keyword {keyword!r} maps to key {key!r}, which is not an option or 0"
            yield _issue(flow, node.id, "speech", message)


# Prompt variables -----------------------------------------------------------------------


def known_vars(flow: Flow) -> frozenset[str]:
    """Names the call's data can hold by the time a prompt is spoken in this flow."""
    names = set(ALWAYS_VARS)
    for node in flow.nodes.values():
        if node.store and node.kind == "record":  # a recording is stored as <store>_sid, …
            names.update(f"{node.store}_{part}" for part in RECORDING_PARTS)
        elif node.store:
            names.add(node.store)
        for choice in node.options.values():
            names.update(choice.sets)
        names.update(VALIDATOR_VARS.get(node.validator or "", ()))
        names.update(ACTION_VARS.get(node.action or "", ()))
    return frozenset(names)


def _prompts(flow: Flow) -> Iterator[tuple[str | None, str, Prompt]]:
    yield None, "prompts.no_input", flow.no_input
    yield None, "prompts.invalid", flow.invalid
    yield None, "prompts.to_agent", flow.transfer_notice
    for node in flow.nodes.values():
        for name in ("prompt", "invalid", "confirm", "pick", "hold"):
            yield node.id, "say" if name == "prompt" else name, getattr(node, name)


def _prompt_vars(flow: Flow) -> Iterator[LintIssue]:
    known = known_vars(flow)
    for node_id, field, prompt in _prompts(flow):
        try:
            names = _template_names(prompt.text)
        except ValueError as exc:
            yield _issue(flow, node_id, field, f"is not a valid prompt template ({exc})")
            continue
        for name in names:
            if name not in known:
                message = f"uses {{{name}}}, which the flow never provides"
                yield _issue(flow, node_id, field, message)


def _template_names(text: str) -> list[str]:
    """The ``{names}`` a prompt fills in, in order, once each (raises ValueError if malformed)."""
    names: dict[str, None] = {}
    for _literal, name, _spec, _conversion in Formatter().parse(text):
        if name is not None:
            names[name] = None
    return list(names)
