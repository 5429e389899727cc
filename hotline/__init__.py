"""The 1567 hotline: the Flask application, its composition root and its parts.

``hotline:create_app()`` builds the app (gunicorn and ``hotline run`` call it). The package
itself loads nothing: ``hotline.calls`` and the domain below it run without Flask (the worker's
call-log flusher, migrations, benchmarks), so the app factory is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotline.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hotline.app import create_app  # loading Flask only when an app is wanted

        return create_app
    raise AttributeError(f"module 'hotline' has no attribute {name!r}")
