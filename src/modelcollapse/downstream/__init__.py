"""Downstream tasks trained on each generation's data and scored on held-out real data (a classifier)."""
