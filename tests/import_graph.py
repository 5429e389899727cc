"""The product's import graph, read from the code (ast), and the dependency rule held against it.

The rule (docs/architecture.md): an arrow means "may import".

    config ← ticketing ← recordings ← hotline.calls ← the rest of hotline
    config ← ivr_flows ← the rest of hotline

``hotline.calls`` and everything below it import no Flask; nothing imports ``hotline`` but
``hotline`` itself, ``migrations/env.py`` and ``bench/``; and no two modules of the product
import each other, directly or round a longer circle, at module level or inside a function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PRODUCT = ("config", "ticketing", "recordings", "ivr_flows", "hotline")
WEB = ("flask", "flask_babel", "werkzeug", "jinja2")
# Werkzeug's password hashing is a plain function library; its hash format is what the users
# table stores, so the domain keeps using it.
NOT_WEB = ("werkzeug.security",)
# How far down each part sits: a module may import product modules of its own rank or below.
RANKS = {"config": 0, "ticketing": 1, "recordings": 2, "hotline.calls": 3, "hotline": 4}
NO_WEB = ("config", "ticketing", "recordings", "ivr_flows", "hotline.calls")
MAY_IMPORT_HOTLINE = ("hotline", "migrations.env", "bench")


@dataclass(frozen=True, slots=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (a product module) or a top-level third-party name
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path, tops: Iterable[str]) -> Iterator[Path]:
    for top in tops:
        base = root / top
        if base.is_file():
            yield base
        elif base.is_dir():
            yield from sorted(p for p in base.rglob("*.py") if ".venv" not in p.parts)


def imports_of(root: Path, path: Path, known: set[str]) -> list[Import]:
    """Every import statement of a file, wherever it stands (lazy imports count too)."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [
                Import(name, _nearest(alias.name, known), node.lineno) for alias in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"  # ``from pkg import module``
                target = candidate if candidate in known else _nearest(base, known)
                found.append(Import(name, target, node.lineno))
    return found


def _nearest(dotted: str, known: set[str]) -> str:
    """The longest known module the dotted name starts with, else the name as written (a
    third-party module)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return dotted


def graph(root: Path, tops: Iterable[str] = (*PRODUCT, "migrations", "bench")) -> list[Import]:
    files = list(source_files(root, tops))
    known = {module_name(root, p) for p in files}
    return [imp for path in files for imp in imports_of(root, path, known)]


def _part(module: str) -> str | None:
    if module == "hotline.calls" or module.startswith("hotline.calls."):
        return "hotline.calls"
    top = module.split(".")[0]
    return top if top in PRODUCT else None


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(imports: Iterable[Import]) -> list[str]:
    """Each import that breaks the rule, as ``importer:line imports imported (why)``."""
    found = []
    for imp in imports:
        source, target = _part(imp.importer), _part(imp.imported)
        where = f"{imp.importer}:{imp.line} imports {imp.imported}"
        if target in ("hotline", "hotline.calls") and not _within(imp.importer, MAY_IMPORT_HOTLINE):
            found.append(f"{where} (only hotline, migrations/env.py and bench/ may)")
            continue
        if source is None:
            continue
        if (
            _within(imp.importer, NO_WEB)
            and imp.imported.split(".")[0] in WEB
            and not _within(imp.imported, NOT_WEB)
        ):
            found.append(f"{where} (no Flask below the web layer)")
        elif source == "ivr_flows" and target not in (None, "config", "ivr_flows"):
            found.append(f"{where} (ivr_flows imports only config)")
        elif target == "ivr_flows" and source not in ("ivr_flows", "hotline"):
            found.append(f"{where} (only the web layer drives the IVR engine)")
        elif source != "ivr_flows" and target in RANKS and RANKS[target] > RANKS[source]:
            found.append(f"{where} ({target} sits above {source})")
    return found


def cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Every circle of product modules (strongly connected components of two or more, or a
    module importing itself), each listed in a stable order."""
    edges: dict[str, set[str]] = {}
    for imp in imports:
        if _part(imp.importer) and _part(imp.imported) and imp.importer != imp.imported:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is small
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)
