"""The map stage: feed records to product drafts, as the config's mapping says.

`mapper` drives it; `values` parses cells, `extract` pulls them out of records, `drafts` holds the
products and their hashes, `seen` the SKU and key indexes that catch repeats.
"""

from erpsync.mapping.drafts import MapOutcome, RowError
from erpsync.mapping.mapper import MAX_VARIANTS, FeedMapper, map_records

__all__ = ["MAX_VARIANTS", "FeedMapper", "MapOutcome", "RowError", "map_records"]
