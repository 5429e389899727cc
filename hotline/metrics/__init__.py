"""Supervisor metrics: figures from the call log and tickets, rollups, pages (docs/metrics.md)."""
