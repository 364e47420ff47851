"""A trained detector of synthetic rows (being written)."""
