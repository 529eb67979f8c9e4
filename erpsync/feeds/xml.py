"""XML records, streamed with expat: elements at a dotted path below the root become dicts.

`records_path: "items.item"` reads every `<item>` in `<catalog><items>` (BMEcat: `T_NEW_CATALOG.PRODUCT`,
Google Merchant RSS: `channel.item`); without it, every child of the root is a record. Child elements
become fields by tag name (nested ones nested dicts, repeated ones lists), attributes become `@name`,
text beside children or attributes becomes `#text`. A records_path that matches nothing is fatal, and
the error lists what the file holds where the path stops matching.

Namespaces: tags are named as the feed writes them, prefix included, with no namespace processing:
Google's `<g:price>` is the field `g:price`, and a BMEcat 2005 document whose default namespace is
`http://www.bmecat.org/bmecat/2005` has plain `PRODUCT`, `SUPPLIER_PID`. `xmlns` attributes are not
fields. (The mapping paths that reach into these records, `[@lang=eng]` included, are described in
erpsync/mapping/extract.py.)

Safety: a DOCTYPE naming an external DTD (BMEcat's `<!DOCTYPE BMECAT SYSTEM "bmecat_2005.dtd">`) is
accepted but never read or fetched; an internal subset, an entity declaration, or a reference to an
entity only a DTD could define is refused, so no entity is ever expanded. A record element is built
in memory until it closes, so one larger than a JSON array's largest element is refused; a single
text longer than `max_cell_size` becomes a CellProblem that rejects its record only.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

from erpsync.feeds.cells import names_shown, oversized
from erpsync.feeds.errors import FeedFormatError, FeedLayoutError, UnsafeFeedError
from erpsync.feeds.json import MAX_ELEMENT_BYTES
from erpsync.feeds.records import MAX_FIELD_SIZE, RecordBatch


class _Refused(Exception):
    """Raised inside an expat callback to stop on an internal DTD subset or an entity."""


class _Node:
    """An element being built: its fields so far and its text."""

    __slots__ = ("fields", "name", "text")

    def __init__(self, name: str, attributes: dict[str, str]) -> None:
        self.name = name
        self.fields: dict[str, Any] = {
            f"@{key}": value for key, value in attributes.items() if not key.startswith("xmlns")
        }
        self.text: list[str] = []

    def value(self, limit: int) -> Any:
        text: Any = "".join(self.text).strip()
        if len(text) > limit:
            text = oversized(len(text), limit)
        if not self.fields:
            return text
        if text:
            self.fields["#text"] = text
        return self.fields


class XmlParser:
    """Push parser yielding one dict per record element, with each record's first line."""

    def __init__(
        self, *, feed: str, records_path: str | None = None, max_cell_size: int = MAX_FIELD_SIZE
    ) -> None:
        self._feed = feed
        self._records_path = records_path
        self._path = tuple(records_path.split(".")) if records_path else None
        self._limit = max_cell_size
        self._parser = expat.ParserCreate()
        self._parser.buffer_text = True
        # Never read a parameter entity or an external DTD, whatever the document asks.
        self._parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._parser.EntityDeclHandler = self._refuse_entity
        self._parser.ExternalEntityRefHandler = self._refuse_external
        self._parser.SkippedEntityHandler = self._refuse_skipped
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._text
        self._outer: list[str] = []
        self._nodes: list[_Node] = []
        self._records: list[dict[str, Any]] = []
        self._lines: list[int] = []
        self._next_row = 1
        self._refusal = ""
        # The child names seen at each level along records_path (level 0: the root's children).
        self._children: list[list[str]] = []
        self._root = ""
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
        """Finish the document; a missing end tag means the file was cut, no record a wrong path."""
        self._parse(b"", final=True)
        batch = self._batch()
        if self._next_row == 1 and self._path is not None and self._root:
            raise FeedLayoutError(self._feed, self._nothing_matched())
        return batch

    def _nothing_matched(self) -> str:
        """Where records_path stops matching, and what the file holds there instead."""
        assert self._path is not None
        where = f"the root <{self._root}>"
        for level, part in enumerate(self._path):
            names = self._children[level] if level < len(self._children) else []
            if part not in names or level == len(self._path) - 1:
                return f"records_path {self._records_path!r} matches nothing; {where} holds: {names_shown(names)}"
            where = f"<{part}>"
        raise AssertionError("unreachable")

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
        lines, self._lines = self._lines, []
        first = self._next_row
        self._next_row += len(records)
        return RecordBatch(None, first, records, lines=lines)

    def _doctype(self, name: str, _system: str | None, _public: str | None, internal: int) -> None:
        """A DOCTYPE that only names a DTD is harmless, as the DTD is never read; a subset is not."""
        if internal:
            self._refusal = f"the XML's DOCTYPE {name} has an internal subset; DTDs and entities are refused"
            raise _Refused

    def _refuse_entity(self, *_args: object) -> None:
        self._refusal = "the XML declares an entity; entities are refused"
        raise _Refused

    def _refuse_external(self, *_args: object) -> int:
        self._refusal = "the XML refers to an external entity; entities are refused"
        raise _Refused

    def _refuse_skipped(self, name: str, _parameter: int) -> None:
        self._refusal = f"the XML uses the entity &{name}; which only its DTD defines; DTDs are never read"
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

    def _note_child(self, name: str) -> None:
        """Remember a name on records_path's way, for the error if the path matches nothing."""
        if not self._outer:
            self._root = name
            return
        level = len(self._outer) - 1
        assert self._path is not None
        if level < len(self._path) and tuple(self._outer[1:]) == self._path[:level]:
            while len(self._children) <= level:
                self._children.append([])
            if name not in self._children[level]:
                self._children[level].append(name)

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        if self._nodes:
            self._nodes.append(_Node(name, attributes))
            return
        if self._path is not None and self._next_row == 1 and not self._records:
            self._note_child(name)
        elif not self._outer:
            self._root = name
        if self._is_record(name):
            self._record_start = self._parser.CurrentByteIndex
            self._lines.append(self._parser.CurrentLineNumber)
            self._nodes.append(_Node(name, attributes))
        else:
            self._outer.append(name)

    def _end(self, name: str) -> None:
        if not self._nodes:
            self._outer.pop()
            return
        node = self._nodes.pop()
        value = node.value(self._limit)
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
