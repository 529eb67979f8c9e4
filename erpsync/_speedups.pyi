"""The C loops of erpsync/_speedups.c; each has a pure-Python twin beside its caller."""

from array import array
from collections.abc import Sequence

def split_records(
    text: str, delimiter: str, quotechar: str, field_limit: int, /
) -> list[list[str]] | None: ...
def add_hashes(
    table: array[int], texts: Sequence[str], rows: Sequence[int], ordinals: Sequence[int], /
) -> list[tuple[int, int, int]]: ...
