"""Labels, not codes, where people read: flow nodes, call outcomes, who wrote a note.

Node labels live in ``labels/<flow>.yaml`` beside the flow file (kept apart from the flow so the
IVR and the staff's wording change independently, and in a folder of their own so nothing that
loads ``flows/*.yaml`` takes them for a flow); a flow elsewhere (tests, a site's own flow) without
its own labels file uses the bundled 1567 labels, and a node without a label shows its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from hotline.calls.kinds import CallOutcome
from hotline.i18n import localized
from hotline.runtime import runtime
from ivr_flows.loader import flow_path

BUNDLED_LABELS = flow_path("1567").parent / "labels" / "1567.yaml"
OUTCOMES = {
    CallOutcome.ANSWERED: _l("เจ้าหน้าที่รับสาย"),
    CallOutcome.ABANDONED_QUEUE: _l("วางสายระหว่างรอ"),
    CallOutcome.ABANDONED_IVR: _l("วางสายในเมนูอัตโนมัติ"),
    CallOutcome.TRANSFERRED: _l("โอนสาย"),
    CallOutcome.SELF_SERVICE: _l("ทำรายการผ่านระบบอัตโนมัติสำเร็จ"),
    CallOutcome.BUSY: _l("สายไม่ว่าง"),
    CallOutcome.FAILED: _l("ต่อสายไม่สำเร็จ"),
    CallOutcome.NO_ANSWER: _l("ไม่มีผู้รับสาย"),
    CallOutcome.CANCELED: _l("ยกเลิกสาย"),
}


@cache
def _labels_for(flow: str) -> dict[str, tuple[str, str]]:
    path_of_flow = flow_path(flow)
    own = path_of_flow.parent / "labels" / path_of_flow.name
    path = own if own.exists() else BUNDLED_LABELS
    return _read(path)


def _read(path: Path) -> dict[str, tuple[str, str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(node): (str(text["th"]), str(text.get("en") or text["th"]))
        for node, text in raw.items()
    }


def node_label(node: str) -> str:
    label = _labels_for(runtime().settings.ivr_flow).get(node)
    return localized(*label) if label else node


def menu_path(choices: Iterable[tuple[str, str]]) -> str:
    """เมนูหลัก (กด 1) › ประเภทเรื่อง (กด 0) — the caller's way through the menu."""
    return " › ".join(_("%(node)s (กด %(key)s)", node=node_label(n), key=k) for n, k in choices)


def outcome_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(OUTCOMES[CallOutcome(value)])
    except ValueError:
        return value
