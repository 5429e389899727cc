"""Persistence infrastructure: base and types, engines, the unit of work, portable statements and
the PostgreSQL fast path (the only code that knows psycopg). Import from the module that says
what you need: ``ticketing.db.base``, ``.engine``, ``.uow``, ``.statements``, ``.postgres``."""
