"""Which compression and format a feed has: the config first, else the file name, else its first bytes.

Whatever decides, the first bytes must agree: a "JSON" feed that starts with `<html>` or a "CSV"
that is really gzip is refused here, before any record is parsed.
"""

from __future__ import annotations

from erpsync.feeds.compression import CompressionKind, sniff_compression
from erpsync.feeds.errors import FeedCompressionError, FeedFormatError
from erpsync.models import Compression, FeedFormat

_EXTENSIONS: dict[str, FeedFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "xml",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".ods": "ods",
}
_WORKBOOKS: tuple[FeedFormat, ...] = ("xlsx", "ods")
# A zip's first local header: the signature, then the member name's length at 26 and the name at 30.
_ZIP_NAME_AT = 30
_XLSX_PARTS = (b"docProps/", b"_rels/", b"xl/")
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_COMPRESSED_EXTENSIONS: dict[str, CompressionKind] = {".gz": "gzip", ".gzip": "gzip", ".zip": "zip"}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Bytes needed to recognise a format; fewer only when the whole feed is shorter.
SNIFF_BYTES = 4096


def resolve_compression(configured: Compression, *, name: str, head: bytes, feed: str) -> CompressionKind:
    """The compression to undo; a configured one the bytes contradict is an error."""
    sniffed = sniff_compression(head)
    if configured == "auto":
        return sniffed
    if not head:
        return "none"
    if configured != sniffed:
        if configured == "none":
            raise FeedFormatError(feed, f"the file is {sniffed}-compressed but compression is 'none'")
        raise FeedCompressionError(feed, f"the file is not {configured}-compressed")
    return configured


def workbook_format(configured: FeedFormat | None, *, name: str, head: bytes) -> FeedFormat | None:
    """xlsx or ods if the bytes are a zip and the config, the file name or the zip's first member
    says it is a workbook, else None (a gzipped workbook is decompressed first)."""
    if sniff_compression(head) != "zip":
        return None
    if configured is not None:
        return configured if configured in _WORKBOOKS else None
    named = format_from_name(name)
    if named is not None:
        return named if named in _WORKBOOKS else None
    return sniff_workbook(head)


def sniff_workbook(head: bytes) -> FeedFormat | None:
    """The workbook a zip's first member gives away: ODS stores `mimetype` first; an XLSX package
    (Office Open XML) starts with `[Content_Types].xml` (Excel, LibreOffice) or a part under
    `docProps/`, `_rels/` or `xl/` (openpyxl)."""
    if sniff_compression(head) != "zip" or len(head) < _ZIP_NAME_AT:
        return None
    length = int.from_bytes(head[26:28], "little")
    member = head[_ZIP_NAME_AT : _ZIP_NAME_AT + length]
    if member == b"mimetype" and _ODS_MIMETYPE in head:
        return "ods"
    return "xlsx" if member == b"[Content_Types].xml" or member.startswith(_XLSX_PARTS) else None


def format_from_name(name: str) -> FeedFormat | None:
    """The format a file name announces, looking through a .gz or .zip suffix."""
    lowered = name.lower().rsplit("/", 1)[-1]
    for suffix in _COMPRESSED_EXTENSIONS:
        lowered = lowered.removesuffix(suffix)
    dot = lowered.rfind(".")
    return _EXTENSIONS.get(lowered[dot:]) if dot >= 0 else None


def sniff_format(head: bytes) -> FeedFormat:
    """The format the first bytes look like; CSV when nothing else fits."""
    text = _strip_bom(head).lstrip()
    if text.startswith(b"<"):
        return "xml"
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first, _, rest = text.partition(b"\n")
        # One object per line is JSON Lines; an object spread over lines is a JSON document.
        if first.rstrip().endswith(b"}") and (not rest.strip() or rest.lstrip().startswith(b"{")):
            return "jsonl"
        return "json"
    return "csv"


def resolve_format(configured: FeedFormat | None, *, name: str, head: bytes, feed: str) -> FeedFormat:
    """The format to parse with, checked against the first bytes."""
    chosen = configured or format_from_name(name) or sniff_workbook(head) or sniff_format(head)
    check_claim(chosen, head, feed=feed)
    return chosen


def check_claim(claimed: FeedFormat, head: bytes, *, feed: str) -> None:
    """Refuse a feed whose first bytes cannot start a file of the claimed format."""
    if not head.strip():
        return
    if claimed in _WORKBOOKS:
        if sniff_compression(head) != "zip":
            raise FeedFormatError(
                feed, f"not {claimed.upper()}: it starts like {_describe(_strip_bom(head).lstrip())}"
            )
        return
    if sniff_compression(head) != "none":
        raise FeedFormatError(feed, "the file is compressed but was not decompressed (check compression)")
    text = _strip_bom(head).lstrip()
    starts = text[:1]
    looks_like = _describe(text)
    if claimed == "json" and starts not in (b"[", b"{"):
        raise FeedFormatError(feed, f"not JSON: it starts like {looks_like}")
    if claimed == "jsonl" and starts not in (b"{", b"["):
        raise FeedFormatError(feed, f"not JSON Lines: it starts like {looks_like}")
    if claimed == "xml" and starts != b"<" and not head.startswith(_BOMS[1:]):
        raise FeedFormatError(feed, f"not XML: it starts like {looks_like}")
    if claimed == "csv":
        if b"\x00" in head and not head.startswith(_BOMS[1:]):
            raise FeedFormatError(feed, "not CSV: the file holds binary data")
        if starts in (b"<", b"{", b"["):
            raise FeedFormatError(feed, f"not CSV: it starts like {looks_like}")


def _strip_bom(head: bytes) -> bytes:
    for bom in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :]
    return head


def _describe(text: bytes) -> str:
    if text.startswith(b"<"):
        return "HTML" if text[:15].lower().startswith((b"<!doctype html", b"<html")) else "XML"
    if text[:1] in (b"{", b"["):
        return "JSON"
    return repr(text[:20].decode("latin-1"))
