"""What every format parser hands the mapping stage: batches of raw records, no per-row objects.

A CSV record is the list of cell strings (the batch carries the header); a JSON, JSON Lines or XML
record is a dict. Row numbers are those a merchant sees: for CSV the spreadsheet row (the header is
row 1), for the other formats the 1-based position of the record in the feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# A record as a parser yields it: cells of a CSV row, or a JSON/XML object.
Record = list[str] | dict[str, Any]

# The longest field a feed may hold, in characters of a CSV cell or bytes of a JSON string: real HTML
# descriptions run to hundreds of KB (more than the stdlib CSV reader's 128 KiB default), and a
# field beyond this means broken quoting, refused before it costs more memory.
MAX_FIELD_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Consecutive records of one feed; `columns` is the CSV header, None for keyed formats.

    `feed_rows`, on the first batch of a feed whose size is known, estimates the feed's row count,
    so the mapping stage can size its indexes once instead of rebuilding them as they fill.
    """

    columns: tuple[str, ...] | None
    first_row: int
    records: list[Any]
    feed_rows: int | None = None


class RecordParser(Protocol):
    """A push parser: bytes in, whole records out; `close` checks that the feed ended cleanly."""

    def feed(self, data: bytes) -> RecordBatch | None:
        """Parse more bytes; return the records they completed, if any."""
        ...

    def close(self) -> RecordBatch | None:
        """Signal the end of the bytes; return the last records or raise if the feed is truncated."""
        ...
