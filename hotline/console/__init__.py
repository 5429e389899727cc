"""The staff console: one module (and blueprint) per URL family."""
