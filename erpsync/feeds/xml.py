"""XML records, streamed with expat: elements at a dotted path below the root become dicts.

`records_path: "items.item"` reads every `<item>` in `<catalog><items>`; without it, every child of
the root is a record. Child elements become fields by tag name (nested ones nested dicts, repeated
ones lists), attributes become `@name`, text beside children becomes `#text`. A DOCTYPE or entity
declaration is refused outright, so no entity is ever expanded and no external file is ever read.
A record element is built in memory until it closes, so one larger than a JSON array's largest
element is refused.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

from erpsync.feeds.errors import FeedFormatError, UnsafeFeedError
from erpsync.feeds.json import MAX_ELEMENT_BYTES
from erpsync.feeds.records import RecordBatch


class _Refused(Exception):
    """Raised inside an expat callback to stop on a DOCTYPE or entity declaration."""


class _Node:
    """An element being built: its fields so far and its text."""

    __slots__ = ("fields", "name", "text")

    def __init__(self, name: str, attributes: dict[str, str]) -> None:
        self.name = name
        self.fields: dict[str, Any] = {f"@{key}": value for key, value in attributes.items()}
        self.text: list[str] = []

    def value(self) -> Any:
        text = "".join(self.text).strip()
        if not self.fields:
            return text
        if text:
            self.fields["#text"] = text
        return self.fields


class XmlParser:
    """Push parser yielding one dict per record element."""

    def __init__(self, *, feed: str, records_path: str | None = None) -> None:
        self._feed = feed
        self._path = tuple(records_path.split(".")) if records_path else None
        self._parser = expat.ParserCreate()
        self._parser.buffer_text = True
        # Never read a parameter entity or an external DTD, whatever the document asks.
        self._parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self._parser.StartDoctypeDeclHandler = self._refuse_doctype
        self._parser.EntityDeclHandler = self._refuse_entity
        self._parser.ExternalEntityRefHandler = self._refuse_external
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._text
        self._depth = 0
        self._outer: list[str] = []
        self._nodes: list[_Node] = []
        self._records: list[dict[str, Any]] = []
        self._next_row = 1
        self._refusal = ""
        # Bytes fed so far, and the document offset where the record being built started.
        self._fed = 0
        self._record_start = 0

    def feed(self, data: bytes) -> RecordBatch | None:
        """Parse a chunk; return the record elements it closed."""
        self._parse(data, final=False)
        self._fed += len(data)
        if self._nodes and self._fed - self._record_start > MAX_ELEMENT_BYTES:
            raise FeedFormatError(
                self._feed,
                f"record {self._next_row + len(self._records)} (from byte {self._record_start:,}) is "
                f"larger than {MAX_ELEMENT_BYTES:,} bytes (an element never closed?)",
            )
        return self._batch()

    def close(self) -> RecordBatch | None:
        """Finish the document; a missing end tag means the file was cut."""
        self._parse(b"", final=True)
        return self._batch()

    def _parse(self, data: bytes, *, final: bool) -> None:
        try:
            self._parser.Parse(data, final)
        except _Refused as exc:
            raise UnsafeFeedError(self._feed, self._refusal) from exc
        except expat.ExpatError as exc:
            raise FeedFormatError(
                self._feed, f"not well-formed XML at line {exc.lineno}, column {exc.offset} ({exc})"
            ) from exc

    def _batch(self) -> RecordBatch | None:
        if not self._records:
            return None
        records, self._records = self._records, []
        first = self._next_row
        self._next_row += len(records)
        return RecordBatch(None, first, records)

    def _refuse_doctype(self, *_args: object) -> None:
        self._refusal = "the XML declares a DOCTYPE; DTDs and entities are refused"
        raise _Refused

    def _refuse_entity(self, *_args: object) -> None:
        self._refusal = "the XML declares an entity; entities are refused"
        raise _Refused

    def _refuse_external(self, *_args: object) -> int:
        self._refusal = "the XML refers to an external entity; entities are refused"
        raise _Refused

    def _is_record(self, name: str) -> bool:
        if self._path is None:
            return len(self._outer) == 1
        # The root is not part of the path: "items.item" is <root><items><item>.
        return (
            len(self._outer) == len(self._path)
            and name == self._path[-1]
            and tuple(self._outer[1:]) == self._path[:-1]
        )

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        if self._nodes or self._is_record(name):
            if not self._nodes:
                self._record_start = self._parser.CurrentByteIndex
            self._nodes.append(_Node(name, attributes))
        else:
            self._outer.append(name)

    def _end(self, name: str) -> None:
        if not self._nodes:
            self._outer.pop()
            return
        node = self._nodes.pop()
        value = node.value()
        if not self._nodes:
            self._records.append(value if isinstance(value, dict) else {"#text": value} if value else {})
            return
        fields = self._nodes[-1].fields
        if name in fields:
            existing = fields[name]
            if isinstance(existing, list):
                existing.append(value)
            else:
                fields[name] = [existing, value]
        else:
            fields[name] = value

    def _text(self, data: str) -> None:
        if self._nodes:
            self._nodes[-1].text.append(data)
