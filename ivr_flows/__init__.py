"""Declarative Thai IVR flows: schema, loader, linter and the engine."""
