"""JSONL variables files for bulk mutations, written streaming and split below Shopify's size limit.

Each file has a sidecar `.keys` file holding the caller's key (a SKU, a product key) of every line, so
results — which arrive in no particular order, tagged with a 0-based `__lineNumber` — can be joined back
to what was sent without holding the batch in memory, and a `.sent` file holding what each line named
(the product id sent, the SKUs), so that every result line can be checked against its own line before it
is recorded: a shop that split the file elsewhere than at `\n` answers line N with another line's product.
https://shopify.dev/docs/api/usage/bulk-operations/imports
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import orjson

# Staged uploads take at most 100 MB; whether that is 10^8 bytes or 100 MiB is unconfirmed, so stay
# under the smaller. https://shopify.dev/changelog/faster-bulk-operations
MAX_FILE_BYTES = 100_000_000


@dataclass(frozen=True, slots=True)
class BulkFile:
    path: Path
    keys_path: Path
    lines: int
    size: int


class BulkFileWriter:
    """Appends `(key, variables)` lines, starting a new file before one would pass `max_bytes`."""

    def __init__(
        self, directory: Path, prefix: str, *, max_bytes: int = MAX_FILE_BYTES, max_lines: int = 0
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        self.files: list[BulkFile] = []
        self._data: IO[bytes] | None = None
        self._keys: IO[bytes] | None = None
        self._sent: IO[bytes] | None = None
        self._lines = 0
        self._size = 0
        directory.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def add(self, key: str, variables: dict[str, Any]) -> None:
        line = orjson.dumps(variables) + b"\n"
        if len(line) > self.max_bytes:
            raise ValueError(
                f"one bulk line for {key!r} is {len(line):,} bytes, above the {self.max_bytes:,} limit"
            )
        full = self._size + len(line) > self.max_bytes or (self.max_lines and self._lines >= self.max_lines)
        if self._data is None or full:
            self._finish()
            self._open()
        assert self._data is not None
        assert self._keys is not None
        assert self._sent is not None
        self._data.write(line)
        self._keys.write(key.replace("\n", " ").encode() + b"\n")
        self._sent.write(orjson.dumps(sent_of(variables)) + b"\n")
        self._lines += 1
        self._size += len(line)

    def _open(self) -> None:
        index = len(self.files)
        self._data = (self.directory / f"{self.prefix}-{index:03d}.jsonl").open("wb")
        self._keys = (self.directory / f"{self.prefix}-{index:03d}.keys").open("wb")
        self._sent = (self.directory / f"{self.prefix}-{index:03d}.sent").open("wb")
        self._lines = 0
        self._size = 0

    def _finish(self) -> None:
        if self._data is None or self._keys is None or self._sent is None:
            return
        for handle in (self._data, self._keys, self._sent):
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        self.files.append(BulkFile(Path(self._data.name), Path(self._keys.name), self._lines, self._size))
        self._data = self._keys = self._sent = None

    def close(self) -> None:
        self._finish()


class KeyIndex:
    """Random access to the key of line N of a bulk file, holding only one offset per line."""

    def __init__(self, keys_path: Path) -> None:
        self._handle = keys_path.open("rb")
        self._offsets = array("Q")
        position = 0
        for line in self._handle:
            self._offsets.append(position)
            position += len(line)
        self._handle.seek(0)

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, line_number: int) -> str:
        self._handle.seek(self._offsets[line_number])
        return self._handle.readline().rstrip(b"\n").decode()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sent_path(keys_path: Path) -> Path:
    """The `.sent` sidecar beside a `.keys` file."""
    return keys_path.with_suffix(".sent")


def sent_of(variables: dict[str, Any]) -> dict[str, Any]:
    """What a line names: the product id it writes (`identifier.id`, `input.id` for a delete, `productId`
    for a variant update) and the SKUs of its variants (a variant update: their ids); a create by custom
    ID names no id."""
    if "productId" in variables:
        variant_ids = [
            str(v["id"]) for v in variables.get("variants") or [] if isinstance(v, dict) and v.get("id")
        ]
        return {"id": variables["productId"], "skus": [], "variant_ids": variant_ids}
    identifier = variables.get("identifier")
    body = variables.get("input")
    product_id = identifier.get("id") if isinstance(identifier, dict) else None
    if product_id is None and isinstance(body, dict) and "identifier" not in variables:
        product_id = body.get("id")
    variants = body.get("variants") if isinstance(body, dict) else None
    skus = [
        str(variant["sku"]) for variant in variants or [] if isinstance(variant, dict) and variant.get("sku")
    ]
    return {"id": product_id, "skus": skus}


class SentIndex:
    """Random access to what line N of a bulk file named; empty for a file written without the sidecar
    (a run started before it existed), whose lines are then not checked."""

    def __init__(self, keys_path: Path) -> None:
        path = sent_path(keys_path)
        self._index = KeyIndex(path) if path.exists() else None

    def __getitem__(self, line_number: int) -> dict[str, Any] | None:
        if self._index is None or not 0 <= line_number < len(self._index):
            return None
        sent: dict[str, Any] = orjson.loads(self._index[line_number])
        return sent

    def close(self) -> None:
        if self._index is not None:
            self._index.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
