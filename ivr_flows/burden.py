"""The caller's burden: what a caller must hear and key before reaching each goal of a flow.

A first-time caller who knows what they want still has to listen: to a menu until their option
is named, to a question until it ends. For each goal (a complaint filed and its number read, a
follow-up answered, an information message, a person) this finds the path through the flow
that costs the least speech and reports the keypresses, the input steps (of which menus), the
Thai syllables heard before the goal and the seconds they take.

Method (the one the December 2026 review used): pythainlp's dictionary syllable tokenizer
(``engine="dict"``, offline) on the spoken text with the call's data filled in with sample
values, digits written as words and ๆ expanded, at :data:`SYLLABLES_PER_S`. Not counted: gaps
between prompts, the beep, keying time, time-outs and the caller's own speech.

Used by ``hotline flows burden`` and the tests only: pythainlp is never loaded by the web
workers.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache

from ivr_flows.model import Flow, Node, Prompt
from ivr_flows.render import FIXED_DIGITS, LEAD_IN_INTERRUPTIBLE, fill
from ivr_flows.thai import DIGIT_WORDS, spoken_digits

SYLLABLES_PER_S = 8.0
SAMPLE_TICKET = "6900030162"
# What the call's data holds when a prompt is spoken; a typical caller's values.
SAMPLE_VARS: Mapping[str, str] = {
    "postal_place": "อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่",
    "postal_code": "50200",
    "postal_code_spoken": spoken_digits("50200"),
    "citizen_id_spoken": "หนึ่ง, หนึ่ง สอง สาม สี่, หนึ่ง สอง สาม สี่ ห้า, หนึ่ง สอง, หนึ่ง",
    "ticket_digits": spoken_digits(SAMPLE_TICKET),
    "ticket_query_spoken": spoken_digits(SAMPLE_TICKET),
    "status_text": "อยู่ระหว่างดำเนินการ",
    "status_date": "8 ธันวาคม พุทธศักราช 2569",
    "status_agency": "สำนักงานที่ดินจังหวัดเชียงใหม่",
    "center_name": "ศูนย์ดำรงธรรมจังหวัดเชียงใหม่",
    "center_place": "ศาลากลางจังหวัดเชียงใหม่",
    "queue_position": "1",
    "queue_wait": "สองนาที",
    "retention": "หนึ่งปี",
    "hours": "ตลอดยี่สิบสี่ชั่วโมง",
}
# Digits keyed for each validator (the ``#`` that ends a variable-length entry is added).
SAMPLE_DIGITS: Mapping[str, int] = {"postal_code": 5, "citizen_id": 13, "ticket_number": 10,
                                    "phone": 10, "digits": 4}  # fmt: skip
GOALS = ("complaint", "follow-up", "information", "a person")
# The goal is reached when the caller starts to hear this (the ticket number, the status).
GOAL_VARS: Mapping[str, str] = {"complaint": "ticket_digits", "follow-up": "status_text"}
GOAL_ACTIONS: Mapping[str, str] = {"complaint": "file_ticket", "follow-up": "lookup_status"}
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Burden:
    """One goal path: what the caller keys and hears before reaching the goal."""

    goal: str
    hours: str  # "office hours" or "after hours"
    path: tuple[str, ...]  # the nodes passed, keys in brackets
    keys: int  # every keypress
    digit_keys: int  # of which digits of a collected value (postal code, ticket number, …)
    steps: int  # times the caller is asked for input
    menus: int  # of which menus (and confirmations)
    syllables: int  # spoken before the goal
    zero_after: int  # syllables before 0 works for the first time (0 = from the first word)

    @property
    def seconds(self) -> float:
        return self.syllables / SYLLABLES_PER_S

    @property
    def menu_keys(self) -> int:
        """Keys besides the digits of values: menu choices, confirmations, skips."""
        return self.keys - self.digit_keys


@dataclass(order=True)
class _Walk:
    syllables: int
    keys: int
    node: str = field(compare=False)
    path: tuple[str, ...] = field(compare=False)
    digit_keys: int = field(compare=False, default=0)
    steps: int = field(compare=False, default=0)
    menus: int = field(compare=False, default=0)
    zero_after: int | None = field(compare=False, default=None)


@cache
def syllables(text: str) -> int:
    """Thai syllables in ``text`` as TTS will say it (digits as words, ๆ expanded)."""
    from pythainlp.tokenize import syllable_tokenize

    spoken = _NUMBER.sub(lambda m: " ".join(DIGIT_WORDS[int(d)] for d in m.group()), text)
    spoken = _expand_repeats(spoken)
    return sum(1 for s in syllable_tokenize(spoken, engine="dict") if s.strip(" ,.-"))


def _expand_repeats(text: str) -> str:
    """A repeat mark says the word again: "ต่าง ๆ" is "ต่าง ต่าง"."""
    words = text.split()
    out: list[str] = []
    for word in words:
        if word == "ๆ" and out:
            out.append(out[-1])
        else:
            out.append(word.replace("ๆ", ""))
    return " ".join(out)


def heard(prompt: Prompt, data: Mapping[str, str] = SAMPLE_VARS) -> int:
    """Syllables of one prompt with sample data (a recorded file counts as its text, if any)."""
    return syllables(fill(prompt.text, data)) if prompt.text else 0


def heard_until(prompt: Prompt, marker: str) -> int:
    """Syllables up to and including ``marker`` ("กด 3"); the whole prompt if it is absent."""
    text = fill(prompt.text, SAMPLE_VARS)
    at = text.find(marker)
    return syllables(text[: at + len(marker)]) if at >= 0 else syllables(text)


def caller_burden(flow: Flow) -> list[Burden | None]:
    """The least-speech path to each goal at office hours, and to a person after hours (None:
    the goal cannot be reached by a caller who does as they are told)."""
    found = [_cheapest(flow, goal, open_=True) for goal in GOALS]
    found.append(_cheapest(flow, "a person", open_=False))
    return found


def _cheapest(flow: Flow, goal: str, *, open_: bool) -> Burden | None:
    """Dijkstra over the flow by syllables heard (keys break ties)."""
    todo = [_Walk(0, 0, flow.start, (flow.start,))]
    done: set[str] = set()
    while todo:
        walk = heapq.heappop(todo)
        if walk.node == "<goal>":
            hours = "office hours" if open_ else "after hours"
            return Burden(goal, hours, walk.path, walk.keys, walk.digit_keys, walk.steps,
                          walk.menus, walk.syllables, walk.zero_after or 0)  # fmt: skip
        if walk.node in done:
            continue
        done.add(walk.node)
        for nxt in _moves(flow, flow.node(walk.node), walk, goal, open_):
            if nxt.node not in done:
                heapq.heappush(todo, nxt)
    return None


def _agent(flow: Flow, open_: bool) -> str:
    return flow.agent if open_ else flow.after_hours_agent


def _moves(flow: Flow, node: Node, walk: _Walk, goal: str, open_: bool) -> Iterator[_Walk]:
    """Where the caller can go from ``node`` and what it costs them."""
    person = goal == "a person"
    if person and node.id == _agent(flow, open_):
        yield _goal(walk)
        return
    gathers = node.kind in ("menu", "collect", "survey")
    zero = walk.zero_after
    if gathers and zero is None:
        zero = walk.syllables
    elif not gathers and zero is None and LEAD_IN_INTERRUPTIBLE and node.kind == "say":
        zero = walk.syllables  # a say node is spoken inside the next node's Gather
    match node.kind:
        case "say":
            marker = "{" + GOAL_VARS.get(goal, "-") + "}"
            if marker in node.prompt.text and _walked_action(flow, walk, goal):
                before = Prompt(node.prompt.text.split(marker, 1)[0])
                yield _goal(_step(walk, heard(before), zero=zero))
                return
            if goal == "information" and _chosen_from_menu(flow, walk):
                yield _goal(_step(walk, heard(node.prompt), zero=zero))
                return
            yield _step(walk, heard(node.prompt), to=node.next, zero=zero)
        case "hours":
            yield _step(walk, 0, to=node.open if open_ else node.closed, zero=zero)
        case "action":
            yield _step(walk, 0, to=node.results.get("ok") or node.next, zero=zero)
        case "menu":
            marker = "{" + GOAL_VARS.get(goal, "-") + "}"
            if marker in node.prompt.text and _walked_action(flow, walk, goal):
                before = Prompt(node.prompt.text.split(marker, 1)[0])
                yield _goal(_step(walk, heard(before), zero=zero))
                return
            # A first-time caller hears the whole menu before choosing.
            for key, choice in node.options.items():
                cost = heard(node.prompt)
                yield _step(walk, cost, to=choice.target, key=key, menu=True, zero=zero)
            if person:
                yield from _zero(flow, node.prompt, walk, open_, zero)
        case "collect":
            yield from _collect(flow, node, walk, open_, zero, person)
        case "record":
            yield _step(walk, heard(node.prompt), to=node.next, key="#", keys=1, zero=zero)
        case "enqueue":
            if person and node.id == _agent(flow, open_):
                yield _goal(walk)
        case _:
            return


def _collect(
    flow: Flow, node: Node, walk: _Walk, open_: bool, zero: int | None, person: bool
) -> Iterator[_Walk]:
    spoken = heard(node.prompt)
    if person:
        yield from _zero(flow, node.prompt, walk, open_, zero)
    if node.optional:
        yield _step(walk, spoken, to=node.next, key="#", keys=1, menu=False, zero=zero)
        return
    digits = SAMPLE_DIGITS.get(node.validator or "", 4)
    keyed = digits + (0 if FIXED_DIGITS.get(node.validator or "") == digits else 1)
    if node.confirm:
        spoken += heard_until(node.confirm, "กด 1")
        keyed += 1
    walked = _step(walk, spoken, to=node.next, key=f"{digits} digits", keys=keyed,
                   digits=digits, zero=zero)  # fmt: skip
    if node.confirm:
        walked.menus += 1
        walked.steps += 1
    yield walked


def _zero(
    flow: Flow, prompt: Prompt, walk: _Walk, open_: bool, zero: int | None
) -> Iterator[_Walk]:
    """0 reaches a person wherever keys are gathered; the caller must be told so first."""
    text = fill(prompt.text, SAMPLE_VARS)
    if "กด 0" in text:
        yield _step(walk, heard_until(prompt, "กด 0"), to=_agent(flow, open_), key="0",
                    menu=True, zero=zero)  # fmt: skip


def _walked_action(flow: Flow, walk: _Walk, goal: str) -> bool:
    return any(
        flow.nodes[n].kind == "action" and flow.nodes[n].action == GOAL_ACTIONS[goal]
        for n in walk.path
        if n in flow.nodes
    )


def _chosen_from_menu(flow: Flow, walk: _Walk) -> bool:
    """An information message: a say node the caller picked from a menu, or a lookup answer."""
    if len(walk.path) < 2:
        return False
    previous = walk.path[-2]
    if previous.startswith("["):
        return True
    node = flow.nodes.get(previous)
    return node is not None and node.kind == "action" and node.action == "lookup_center"


def _step(
    walk: _Walk,
    cost: int,
    *,
    to: str | None = None,
    key: str | None = None,
    keys: int | None = None,
    digits: int = 0,
    menu: bool = False,
    zero: int | None = None,
) -> _Walk:
    path = walk.path + ((f"[{key}]",) if key else ()) + ((to,) if to else ())
    pressed = (1 if key else 0) if keys is None else keys
    return _Walk(walk.syllables + cost, walk.keys + pressed, to or walk.node, path,
                 walk.digit_keys + digits, walk.steps + (1 if key else 0),
                 walk.menus + (1 if menu else 0), zero)  # fmt: skip


def _goal(walk: _Walk) -> _Walk:
    zero = walk.zero_after if walk.zero_after is not None else walk.syllables
    return _Walk(walk.syllables, walk.keys, "<goal>", walk.path, walk.digit_keys, walk.steps,
                 walk.menus, zero)  # fmt: skip


def burden_table(flow: Flow) -> str:
    """The burden as a Markdown table (what ``hotline flows burden`` prints)."""
    rows = [
        "| goal | hours | keys (besides digits) | input steps (menus) | syllables | seconds "
        "| 0 works after | path |",
        "|---|---|---|---|---|---|---|---|",
    ]
    labels = [(g, "office hours") for g in GOALS] + [("a person", "after hours")]
    for (goal, hours), b in zip(labels, caller_burden(flow), strict=True):
        if b is None:
            rows.append(f"| {goal} | {hours} | — | — | — | — | — | not reachable |")
            continue
        path = " ".join(b.path)
        rows.append(
            f"| {b.goal} | {b.hours} | {b.keys} ({b.menu_keys}) | {b.steps} ({b.menus}) "
            f"| {b.syllables} | {b.seconds:.1f} | {b.zero_after / SYLLABLES_PER_S:.1f} s "
            f"| {path} |"
        )
    return "\n".join(rows) + "\n"
