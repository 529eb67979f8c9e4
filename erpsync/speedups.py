"""The C loops of erpsync/_speedups.c where the package was built with a C compiler, else None each.

One switch for every caller: each falls back to its pure-Python twin when its loop is None, and the
tests turn them all off here to run that twin (the `speedups` fixture in tests/feeds/conftest.py).
"""

from __future__ import annotations

import contextlib
from array import array
from collections.abc import Callable, Sequence

split_records: Callable[[str, str, str, int], list[list[str]] | None] | None = None
add_hashes: (
    Callable[[array[int], Sequence[str], Sequence[int], Sequence[int]], list[tuple[int, int, int]]] | None
) = None

with contextlib.suppress(ImportError):
    from erpsync import _speedups

    split_records = _speedups.split_records
    add_hashes = _speedups.add_hashes

NAMES = ("split_records", "add_hashes")
