"""Every mapped table in one import, for Alembic and tests: the full metadata of the product."""

from __future__ import annotations

import hotline.calllog
import recordings.models
import ticketing.models
import ticketing.practice
from ticketing.db import Base

metadata = Base.metadata

__all__ = ["metadata"]

# Imported for their side effect of registering tables on Base.metadata.
_MODEL_MODULES = (ticketing.models, ticketing.practice, hotline.calllog, recordings.models)
