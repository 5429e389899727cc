"""Contact-centre metrics: staffing models and service-level arithmetic."""
