"""The one way every parser reports a cell too long to keep: a CellProblem in place of its value.

A single huge cell is a data problem of one product, not of the feed: its row is rejected with this
message, and every other row is still synced.
"""

from __future__ import annotations

from typing import Any

from erpsync.feeds.records import CellProblem


def oversized(length: int, limit: int) -> CellProblem:
    """The problem of a cell `length` characters (or bytes) long, past the configured `limit`."""
    return CellProblem(f"is {length} characters, over format_options.max_cell_size ({limit})")


def names_shown(names: list[str], *, most: int = 20) -> str:
    """Names for an error message, the first `most` of them, in the order the file has them."""
    shown = ", ".join(names[:most]) + (", ..." if len(names) > most else "")
    return shown or "nothing"


def cap_strings(value: Any, limit: int) -> Any:
    """`value` with every string longer than `limit` (at any depth) replaced by its CellProblem.

    Called only on records whose bytes exceed the limit, so ordinary records are never walked.
    """
    if isinstance(value, str):
        return oversized(len(value), limit) if len(value) > limit else value
    if isinstance(value, dict):
        return {key: cap_strings(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [cap_strings(item, limit) for item in value]
    return value
