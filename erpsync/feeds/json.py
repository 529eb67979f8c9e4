"""JSON records, streamed: the elements of a top-level array, or of the array at `records_path`.

No whole-document parse. A small tokenizer (strings and brackets only) walks the document to the
records array and, when needed, finds the last element boundary in the buffer. The common case
takes a fast path instead: cut after the last `}` followed by `,` and let orjson parse every
complete element of the chunk in one call. That cut is only a guess; if it falls inside a string or
a nested object the slice does not parse as a list of values, and the tokenizer decides instead.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from erpsync.feeds.errors import FeedFormatError
from erpsync.feeds.records import RecordBatch

# Whole strings (escapes included), a lone quote (a string the buffer cuts), or a structural byte.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|["\[\]{}:,]')
_WHITESPACE = b" \t\r\n"
# One element larger than this means the structure is broken, not that a product is big.
MAX_ELEMENT_BYTES = 64 * 1024 * 1024
# How many `}` to try from the end of the buffer before leaving the cut to the tokenizer.
_FAST_TRIES = 4

_PREFIX, _BODY, _TRAILER, _DONE = range(4)


class JsonArrayParser:
    """Push parser yielding the elements of one JSON array as they complete."""

    def __init__(self, *, feed: str, records_path: str | None = None) -> None:
        self._feed = feed
        self._path = tuple(records_path.split(".")) if records_path else ()
        self._state = _PREFIX
        self._buffer = b""
        self._scan = 0
        # Prefix: open containers as [is_object, current_key]; body and trailer: nesting depth.
        self._frames: list[list[Any]] = []
        self._last_string: bytes | None = None
        self._depth = 0
        self._next_row = 1
        self._first = True

    def feed(self, data: bytes) -> RecordBatch | None:
        """Parse a chunk; return the array elements it completes."""
        if self._first:
            data = data.removeprefix(b"\xef\xbb\xbf")
            self._first = False
        self._buffer = self._buffer + data if self._buffer else data
        records: list[Any] = []
        if self._state == _PREFIX:
            self._walk_prefix()
        if self._state == _BODY:
            self._take_elements(records)
        if self._state == _TRAILER:
            self._walk_trailer()
        elif self._state == _DONE:
            self._end_document(self._buffer)
        return self._batch(records)

    def close(self) -> RecordBatch | None:
        """Take the elements still buffered and check the document ended where it should."""
        records: list[Any] = []
        if self._state == _BODY:
            # The fast path leaves the last element (and the closing bracket) for the tokenizer.
            self._slow_cut(records)
        if self._state == _TRAILER:
            self._walk_trailer()
        if self._state == _PREFIX:
            if self._path:
                where = ".".join(self._path)
                raise FeedFormatError(self._feed, f"no array at records_path {where!r} in the JSON")
            raise FeedFormatError(self._feed, "the JSON holds no records array")
        if self._state == _BODY:
            raise FeedFormatError(self._feed, "the JSON ends inside the records array (truncated file?)")
        if self._state == _TRAILER:
            raise FeedFormatError(self._feed, "the JSON ends before its closing brackets (truncated file?)")
        return self._batch(records)

    def _batch(self, records: list[Any]) -> RecordBatch | None:
        if not records:
            return None
        first = self._next_row
        self._next_row += len(records)
        return RecordBatch(None, first, records)

    def _walk_prefix(self) -> None:
        buffer = self._buffer
        for match in _TOKEN.finditer(buffer, self._scan):
            token = match.group()
            if token == b'"':
                self._buffer = buffer[match.start() :]
                self._scan = 0
                return
            if token[0] == 0x22:
                self._last_string = token
            elif token == b":":
                if self._frames and self._last_string is not None:
                    self._frames[-1][1] = orjson.loads(self._last_string)
            elif token in (b"{", b"["):
                if token == b"[" and self._path and not self._frames:
                    raise FeedFormatError(self._feed, "the JSON is an array; records_path must not be set")
                if self._at_records_path():
                    if token == b"[":
                        self._state = _BODY
                        self._depth = 0
                        self._buffer = buffer[match.end() :]
                        self._scan = 0
                        return
                    where = ".".join(self._path) or "the top level"
                    hint = "" if self._path else " (set format_options.records_path)"
                    raise FeedFormatError(self._feed, f"{where} is an object, not an array{hint}")
                self._frames.append([token == b"{", None])
            elif token in (b"}", b"]"):
                if not self._frames:
                    break
                self._frames.pop()
                if not self._frames:
                    break
        # Tokens before the records array are done with; keep only what is still unscanned.
        self._buffer = b""
        self._scan = 0

    def _at_records_path(self) -> bool:
        if len(self._frames) != len(self._path):
            return False
        return all(
            is_object and key == part for (is_object, key), part in zip(self._frames, self._path, strict=True)
        )

    def _take_elements(self, records: list[Any]) -> None:
        cut = self._fast_cut()
        if cut and self._parse_into(records, cut, guess=True):
            self._buffer = self._buffer[cut + 1 :]
            self._scan = 0
            self._depth = 0
            return
        self._slow_cut(records)
        if self._state == _BODY and len(self._buffer) > MAX_ELEMENT_BYTES:
            raise FeedFormatError(
                self._feed, f"record {self._next_row + len(records)} never ends (broken JSON?)"
            )

    def _fast_cut(self) -> int:
        """Offset of a `,` following the last complete-looking object, 0 if none is in view."""
        buffer = self._buffer
        end = len(buffer)
        for _ in range(_FAST_TRIES):
            brace = buffer.rfind(b"}", 0, end)
            if brace < 0:
                return 0
            position = brace + 1
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if position < len(buffer) and buffer[position] == 0x2C:
                return position
            end = brace
        return 0

    def _parse_into(self, records: list[Any], cut: int, *, guess: bool) -> bool:
        """Parse buffer[:cut] as a run of elements; a failed guess is not an error."""
        try:
            parsed = orjson.loads(b"[" + self._buffer[:cut] + b"]")
        except orjson.JSONDecodeError as exc:
            if guess:
                return False
            row = self._next_row + len(records)
            raise FeedFormatError(self._feed, f"not valid JSON at or after record {row} ({exc})") from exc
        records.extend(parsed)
        return True

    def _slow_cut(self, records: list[Any]) -> None:
        buffer = self._buffer
        depth = self._depth
        last_comma = -1
        for match in _TOKEN.finditer(buffer, self._scan):
            token = match.group()
            if token == b'"':
                self._scan = match.start()
                break
            if token in (b"{", b"["):
                depth += 1
            elif token in (b"}", b"]"):
                if depth == 0:
                    if token != b"]":
                        raise FeedFormatError(self._feed, "unbalanced brackets in the JSON records array")
                    self._parse_into(records, match.start(), guess=False)
                    self._buffer = buffer[match.end() :]
                    self._state = _TRAILER
                    self._depth = len(self._frames)
                    self._scan = 0
                    return
                depth -= 1
            elif token == b"," and depth == 0:
                last_comma = match.start()
        else:
            self._scan = len(buffer)
        self._depth = depth
        if last_comma >= 0:
            self._parse_into(records, last_comma, guess=False)
            self._buffer = buffer[last_comma + 1 :]
            self._scan -= last_comma + 1

    def _walk_trailer(self) -> None:
        buffer = self._buffer
        if self._depth <= 0:
            self._end_document(buffer)
            return
        for match in _TOKEN.finditer(buffer, self._scan):
            token = match.group()
            if token == b'"':
                self._scan = match.start()
                return
            if token in (b"{", b"["):
                self._depth += 1
            elif token in (b"}", b"]"):
                self._depth -= 1
            if self._depth <= 0:
                self._end_document(buffer[match.end() :])
                return
        self._scan = len(buffer)

    def _end_document(self, rest: bytes) -> None:
        if rest.strip(_WHITESPACE):
            raise FeedFormatError(self._feed, "unexpected data after the end of the JSON document")
        self._state = _DONE
        self._buffer = b""
