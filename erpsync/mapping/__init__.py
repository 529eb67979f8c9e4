"""The map stage: feed records to product drafts, as the config's mapping says.

`pipeline` drives it: `grouping` (with `sorting` and its `items`, `parent_link`, `parents`, `nested`)
regroups the feed's shape into adjacent products, `rules` computes values, `mapper` (with `state`, `columns`, `rows`, `options`,
`images`) maps them; `values`, `money` and `metafield_values` parse cells, `extract` pulls them out
of records, `drafts` holds the products and their hashes, `seen` the SKU and key indexes.
"""

from erpsync.mapping.drafts import MapOutcome, RowError
from erpsync.mapping.mapper import MAX_VARIANTS, FeedMapper
from erpsync.mapping.pipeline import FeedPipeline, map_feed

__all__ = ["MAX_VARIANTS", "FeedMapper", "FeedPipeline", "MapOutcome", "RowError", "map_feed"]
