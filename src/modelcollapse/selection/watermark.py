"""The watermark filter (being written)."""
