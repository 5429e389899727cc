"""Every mapped table in one import, for Alembic and tests: the full metadata of the product."""

from __future__ import annotations

import hotline.calls.desk_models
import hotline.calls.models
import hotline.channels.line_models
import hotline.metrics.models
import recordings.models
import ticketing.models
import ticketing.practice
from ticketing.db.base import Base

metadata = Base.metadata

__all__ = ["metadata"]

# Imported for their side effect of registering tables on Base.metadata.
_MODEL_MODULES = (
    ticketing.models,
    ticketing.practice,
    hotline.calls.models,
    hotline.metrics.models,
    hotline.calls.desk_models,
    hotline.channels.line_models,
    recordings.models,
)
