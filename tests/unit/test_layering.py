"""The dependency rule (docs/architecture.md), held on the import graph the code really has.

    config ← ticketing ← recordings ← hotline.calls ← the rest of hotline;  ivr_flows ← config

The graph is read with ast from every product module, bench/ and migrations/, imports inside
functions included; a violation or a circle is listed by module and line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import cycles, graph, violations

ROOT = Path(__file__).resolve().parents[2]


def test_the_product_keeps_the_dependency_rule() -> None:
    found = violations(graph(ROOT))
    assert found == [], "imports that break the rule:\n" + "\n".join(found)


def test_no_module_of_the_product_is_in_an_import_circle() -> None:
    found = cycles(graph(ROOT))
    assert found == [], "import circles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_hotline_itself_holds_only_the_composition_root() -> None:
    top = sorted(p.stem for p in (ROOT / "hotline").glob("*.py"))
    assert top == ["__init__", "app", "auth", "cli", "health", "i18n", "migrate", "models",
                   "runtime", "throttle"]  # fmt: skip


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("importer", "line", "why"),
    [
        ("ticketing/bad.py", "from hotline.calls.models import Call", "only hotline"),
        ("recordings/bad.py", "import hotline.runtime", "only hotline"),
        ("config/bad.py", "from ticketing.models import Ticket", "ticketing sits above config"),
        ("ticketing/bad.py", "from recordings.models import Recording", "recordings sits above"),
        ("ivr_flows/bad.py", "from ticketing.models import Ticket", "ivr_flows imports only"),
        ("ticketing/bad.py", "from ivr_flows.engine import start", "only the web layer"),
        ("hotline/calls/bad.py", "from flask import request", "no Flask"),
        ("ticketing/bad.py", "def f():\n    from flask_babel import gettext", "no Flask"),
        ("hotline/calls/bad.py", "from hotline.runtime import Runtime", "hotline sits above"),
    ],
)
def test_a_bad_import_is_found(tmp_path: Path, importer: str, line: str, why: str) -> None:
    """The checker itself can fail: each kind of bad import, in a small tree of its own."""
    write(tmp_path, {"config/__init__.py": "", "ticketing/__init__.py": "",
                     "ticketing/models.py": "", "recordings/__init__.py": "",
                     "recordings/models.py": "", "ivr_flows/__init__.py": "",
                     "ivr_flows/engine.py": "", "hotline/__init__.py": "",
                     "hotline/runtime.py": "", "hotline/calls/__init__.py": "",
                     "hotline/calls/models.py": "", importer: line + "\n"})  # fmt: skip
    found = violations(graph(tmp_path))
    assert len(found) == 1 and why in found[0], found
    assert found[0].startswith(importer.removesuffix(".py").replace("/", ".") + ":")


def test_the_allowed_imports_pass(tmp_path: Path) -> None:
    write(tmp_path, {"config/__init__.py": "", "ticketing/__init__.py": "",
                     "ticketing/models.py": "from config import x\nimport sqlalchemy\n",
                     "ticketing/users.py": "from werkzeug.security import check_password_hash",
                     "recordings/__init__.py": "", "recordings/jobs.py": "import ticketing.models",
                     "hotline/__init__.py": "", "hotline/calls/__init__.py": "",
                     "hotline/calls/log.py": "from recordings import jobs\n",
                     "hotline/web.py": "import flask\nfrom hotline.calls import log\n",
                     "bench/b.py": "import hotline.web",
                     "migrations/env.py": "import hotline.web"})  # fmt: skip
    assert violations(graph(tmp_path)) == []


def test_a_circle_is_found_even_through_a_lazy_import(tmp_path: Path) -> None:
    write(tmp_path, {"hotline/__init__.py": "", "hotline/a.py": "from hotline import b\n",
                     "hotline/b.py": "def later():\n    from hotline.c import x\n",
                     "hotline/c.py": "import hotline.a\n"})  # fmt: skip
    assert cycles(graph(tmp_path)) == [["hotline.a", "hotline.b", "hotline.c"]]
