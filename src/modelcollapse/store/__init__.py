"""The results folder: a DuckDB store (:mod:`.database`), what it holds (:mod:`.identity`) and how
another folder's results join it (:mod:`.merge`)."""

from modelcollapse.store.database import DB_NAME, GRID_AXES, Store, StoreError, column
from modelcollapse.store.identity import Identity, Member, Refused, member

__all__ = ["DB_NAME", "GRID_AXES", "Identity", "Member", "Refused", "Store", "StoreError", "column", "member"]
