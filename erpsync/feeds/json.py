"""JSON records, streamed: the elements of a top-level array, or of the array at `records_path`.

No whole-document parse. A small tokenizer (strings and brackets only) walks the document to the
records array and, when needed, finds the last element boundary in the buffer. The common case
takes a fast path instead: cut after the last `}` followed by `,` and let orjson parse every
complete element of the chunk in one call. That cut is only a guess; if it falls inside a string or
a nested object the slice does not parse as a list of values, and the tokenizer decides instead.

Every scan resumes where the last one stopped, inside a string too, and the fast path is left out
while a record larger than `_FAST_CARRY` is pending: the work stays linear in the feed's size, so a
record holding a 10 MB description costs what 10 MB of small records cost, not a rescan per chunk.

A string longer than `max_cell_size` becomes a CellProblem that rejects its record only (the records
of a parse larger than the limit are walked for it); one past `MAX_ELEMENT_BYTES` is broken quoting,
fatal. A records_path that matches nothing is fatal too, and names the keys found where it stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from erpsync.feeds.cells import cap_strings, names_shown
from erpsync.feeds.errors import FeedFormatError, FeedLayoutError
from erpsync.feeds.records import MAX_FIELD_SIZE, RecordBatch

# Whole strings (escapes included), a lone quote (a string the buffer cuts), or a structural byte.
_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|["\[\]{}:,]', re.DOTALL)
_QUOTE, _COMMA, _BACKSLASH = 0x22, 0x2C, 0x5C
_WHITESPACE = b" \t\r\n"
# One element larger than this means the structure is broken, not that a product is big.
MAX_ELEMENT_BYTES = 64 * 1024 * 1024
# How many `}` to try from the end of the buffer before leaving the cut to the tokenizer.
_FAST_TRIES = 4
# A pending record carried over from earlier chunks beyond this size goes to the tokenizer alone: a
# guess would search and parse it again with every chunk until it ends.
_FAST_CARRY = 256 * 1024

_PREFIX, _BODY, _TRAILER, _DONE = range(4)


class JsonArrayParser:
    """Push parser yielding the elements of one JSON array as they complete."""

    def __init__(
        self, *, feed: str, records_path: str | None = None, max_cell_size: int = MAX_FIELD_SIZE
    ) -> None:
        self._feed = feed
        self._limit = max_cell_size
        # The keys seen at each level along records_path, for the error if it matches nothing.
        self._keys: list[list[str]] = []
        self._path = tuple(records_path.split(".")) if records_path else ()
        self._state = _PREFIX
        self._buffer = bytearray()
        # The document offset of the buffer's first byte; where the next scan starts in the buffer;
        # the start of a string the buffer cuts (-1: none), whose closing quote is looked for from `_scan`.
        self._offset = 0
        self._scan = 0
        self._open = -1
        # Top-level commas the tokenizer passed in the buffer: the pending record is `_next_row` + this.
        self._commas = 0
        # Prefix: open containers as [is_object, current_key]; body and trailer: nesting depth.
        self._frames: list[list[Any]] = []
        self._last_string: bytes | None = None
        self._depth = 0
        self._next_row = 1
        self._first = True
        # Bytes searched or handed to orjson so far: about twice the feed's size, whatever its shape.
        self.scanned_bytes = 0

    def feed(self, data: bytes) -> RecordBatch | None:
        """Parse a chunk; return the array elements it completes."""
        if self._first:
            data = data.removeprefix(b"\xef\xbb\xbf")
            self._first = False
        carried = len(self._buffer)
        self._buffer += data
        records: list[Any] = []
        if self._state == _PREFIX:
            self._walk_prefix()
        if self._state == _BODY:
            self._take_elements(records, guess=carried <= _FAST_CARRY)
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
                raise FeedLayoutError(self._feed, self._nothing_matched())
            raise FeedFormatError(self._feed, "the JSON holds no records array")
        if self._state == _BODY:
            raise FeedFormatError(self._feed, "the JSON ends inside the records array (truncated file?)")
        if self._state == _TRAILER:
            raise FeedFormatError(self._feed, "the JSON ends before its closing brackets (truncated file?)")
        return self._batch(records)

    def _nothing_matched(self) -> str:
        """Where records_path stops matching, and the keys the JSON has there instead."""
        where = "the top-level object"
        for level, part in enumerate(self._path):
            names = self._keys[level] if level < len(self._keys) else []
            if part not in names or level == len(self._path) - 1:
                break
            where = repr(".".join(self._path[: level + 1]))
        path = ".".join(self._path)
        return f"records_path {path!r} matches nothing; {where} holds: {names_shown(names)}"

    def _batch(self, records: list[Any]) -> RecordBatch | None:
        if not records:
            return None
        first = self._next_row
        self._next_row += len(records)
        return RecordBatch(None, first, records)

    # -- strings the buffer cuts --------------------------------------------------------------

    def _cut_string(self, buffer: bytearray, start: int) -> None:
        """The string opened at `start` does not close in the buffer: its closing quote will be looked
        for in the bytes still to come (`_close_string`), not by scanning the string again."""
        self._open, self._scan = start, len(buffer)
        self._check_string(start, len(buffer))

    def _close_string(self, buffer: bytearray) -> int:
        """If a string was cut, look for its closing quote from where the last look stopped: the
        string's start if it closes now (`_scan` is then past it), else -1 (it may still be open)."""
        start = self._open
        if start < 0:
            return -1
        at = self._scan
        while (quote := buffer.find(b'"', at)) >= 0:
            slash = quote
            while buffer[slash - 1] == _BACKSLASH:  # stops at `start` at the latest: a quote
                slash -= 1
            at = quote + 1
            if (quote - slash) % 2 == 0:  # not escaped: an even run of backslashes before it
                self.scanned_bytes += at - self._scan
                self._scan, self._open = at, -1
                self._check_string(start, at)
                return start
        self.scanned_bytes += len(buffer) - self._scan
        self._cut_string(buffer, start)
        return -1

    def _check_string(self, start: int, end: int) -> None:
        if end - start > MAX_ELEMENT_BYTES:
            where = f"record {self._next_row + self._commas}" if self._state == _BODY else "the JSON"
            raise FeedFormatError(
                self._feed,
                f"{where} holds a string longer than {MAX_ELEMENT_BYTES:,} bytes, starting at byte "
                f"{self._offset + start:,}; no product field is that long (broken quoting, or not a feed?)",
            )

    def _drop(self, count: int) -> None:
        """Forget the buffer's first `count` bytes, keeping the scan's place."""
        del self._buffer[:count]
        self._offset += count
        self._scan = max(self._scan - count, 0)
        if self._open >= 0:
            self._open -= count

    def _tokens(self, buffer: bytearray) -> Iterator[tuple[bytes, int]]:
        """Each token from `_scan` on, a string whole, with the offset after it: first the string the
        last chunk cut, if it closes now; none past a string the buffer cuts (`_open` then marks it).
        No `_drop` until the loop over it has ended: its scanner holds the buffer, which cannot be
        resized meanwhile."""
        if (start := self._close_string(buffer)) >= 0:
            yield bytes(buffer[start : self._scan]), self._scan
        if self._open >= 0:
            return
        scan = stop = self._scan
        try:
            for match in _TOKEN.finditer(buffer, scan):
                token = match.group()
                if token == b'"':
                    self._cut_string(buffer, match.start())
                    break
                stop = match.end()
                yield token, stop
            stop = self._scan = len(buffer)
        finally:
            self.scanned_bytes += stop - scan

    # -- the document around the records -------------------------------------------------------

    def _walk_prefix(self) -> None:
        buffer = self._buffer
        stop = -1
        for token, end in self._tokens(buffer):
            if self._prefix_token(token):
                stop = end
                break
        if self._state == _BODY:
            self._drop(stop)
            return
        # Tokens before the records array are done with; keep only a string still open.
        self._drop(self._open if self._open >= 0 else len(buffer))

    def _prefix_token(self, token: bytes) -> bool:
        """Follow one token before the records array; True if the walk stops at it: the array opens
        (the state is then _BODY) or the document closes without one."""
        if token[0] == _QUOTE:
            self._last_string = token
        elif token == b":":
            if self._frames and self._last_string is not None:
                self._frames[-1][1] = key = orjson.loads(self._last_string)
                self._note_key(key)
        elif token in (b"{", b"["):
            if token == b"[" and self._path and not self._frames:
                raise FeedFormatError(self._feed, "the JSON is an array; records_path must not be set")
            if self._at_records_path():
                if token == b"[":
                    self._state, self._depth = _BODY, 0
                    return True
                where = ".".join(self._path) or "the top level"
                hint = "" if self._path else " (set format_options.records_path)"
                raise FeedFormatError(self._feed, f"{where} is an object, not an array{hint}")
            self._frames.append([token == b"{", None])
        elif token in (b"}", b"]"):
            if self._frames:
                self._frames.pop()
            return not self._frames
        return False

    def _note_key(self, key: str) -> None:
        """Remember a key on records_path's way (the frames above it follow the path)."""
        level = len(self._frames) - 1
        if level >= len(self._path) or not self._frames[level][0]:
            return
        if all(
            frame[0] and frame[1] == part
            for frame, part in zip(self._frames[:level], self._path, strict=False)
        ):
            while len(self._keys) <= level:
                self._keys.append([])
            if key not in self._keys[level] and len(self._keys[level]) < 100:
                self._keys[level].append(key)

    def _at_records_path(self) -> bool:
        if len(self._frames) != len(self._path):
            return False
        return all(
            is_object and key == part for (is_object, key), part in zip(self._frames, self._path, strict=True)
        )

    def _walk_trailer(self) -> None:
        buffer = self._buffer
        if self._depth <= 0:
            self._end_document(buffer)
            return
        end = -1
        for token, after in self._tokens(buffer):
            if token in (b"{", b"["):
                self._depth += 1
            elif token in (b"}", b"]"):
                self._depth -= 1
            if self._depth <= 0:
                end = after
                break
        if end >= 0:
            self._end_document(buffer[end:])
            return
        self._drop(self._open if self._open >= 0 else len(buffer))

    def _end_document(self, rest: bytes | bytearray) -> None:
        if rest.strip(_WHITESPACE):
            raise FeedFormatError(self._feed, "unexpected data after the end of the JSON document")
        self._state = _DONE
        self._buffer.clear()
        self._scan = 0

    # -- the records ---------------------------------------------------------------------------

    def _take_elements(self, records: list[Any], *, guess: bool) -> None:
        cut = self._fast_cut() if guess else 0
        if cut and self._parse_into(records, cut, guess=True):
            self._drop(cut + 1)
            self._scan, self._open, self._depth, self._commas = 0, -1, 0, 0
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
            self.scanned_bytes += end - max(brace, 0)
            if brace < 0:
                return 0
            position = brace + 1
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if position < len(buffer) and buffer[position] == _COMMA:
                return position
            end = brace
        return 0

    def _parse_into(self, records: list[Any], cut: int, *, guess: bool) -> bool:
        """Parse buffer[:cut] as a run of elements; a failed guess is not an error."""
        self.scanned_bytes += cut
        try:
            parsed = orjson.loads(b"[" + self._buffer[:cut] + b"]")
        except orjson.JSONDecodeError as exc:
            if guess:
                return False
            row = self._next_row + len(records)
            raise FeedFormatError(self._feed, f"not valid JSON at or after record {row} ({exc})") from exc
        if cut > self._limit:
            parsed = [cap_strings(record, self._limit) for record in parsed]
        records.extend(parsed)
        return True

    def _slow_cut(self, records: list[Any]) -> None:
        buffer = self._buffer
        depth = self._depth
        last_comma = closing = -1
        for token, end in self._tokens(buffer):
            if token in (b"{", b"["):
                depth += 1
            elif token in (b"}", b"]"):
                if depth == 0:
                    if token != b"]":
                        raise FeedFormatError(self._feed, "unbalanced brackets in the JSON records array")
                    closing = end
                    break
                depth -= 1
            elif token == b"," and depth == 0:
                last_comma = end - 1
                self._commas += 1
        if closing >= 0:
            self._parse_into(records, closing - 1, guess=False)
            self._drop(closing)
            self._state, self._depth = _TRAILER, len(self._frames)
            self._scan = self._commas = 0
            return
        self._depth = depth
        if last_comma >= 0:
            self._parse_into(records, last_comma, guess=False)
            self._drop(last_comma + 1)
            self._commas = 0
