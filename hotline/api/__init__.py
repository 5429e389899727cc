"""The machine interfaces: REST /api/v1 with its OpenAPI document, and Open311 GeoReport v2."""
