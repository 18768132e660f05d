"""Reading a source's raw bytes: size limits, decompression and strict decoding.

Every source goes through these helpers before its parser sees a character:

* :func:`read_file` refuses a file larger than its source's limit before reading
  it (``SABISCORE_<SOURCE>_MAX_BYTES``, see :class:`~sabiscore_ml.settings.SourceSettings`);
  live downloads stop at the same limit (:mod:`sabiscore_ml.sources.http`);
* :func:`decompress` opens gzip content (recognised by its magic bytes, whatever
  the name says) reading at most the limit, so a truncated or corrupt stream or a
  gzip bomb is a rejection of that one file, never an exception;
* :func:`decode_text` decodes a whole file with one encoding: UTF-8 (a BOM is
  dropped), else, for a file holding no UTF-8 sequence at all, cp1252 (Latin-1 for
  the five bytes cp1252 leaves undefined).  A file mixing the two, or UTF-8 text
  that already holds mojibake (``Ã©`` for ``é``: UTF-8 once read as Latin-1), is
  rejected naming the line and the bytes;
* :func:`decode` is :func:`decode_text` for a CSV file: it first rejects empty,
  compressed, HTML and UTF-16 or binary content, each with its own check;
* :func:`parse_failures` turns any other failure of a parser into a rejection
  (check ``parse``) of the file it was reading.

:func:`sha256_hex` gives the raw bytes' content address in the archive.

Every failure raises :class:`~sabiscore_ml.errors.RejectedFile` (checks
``too_large``, ``compression``, ``empty``, ``encoding``, ``not_csv``, ``parse``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.settings import get_source_settings

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
# Containers no source is read from: named in the rejection instead of a decoding error.
_OTHER_CONTAINERS = (
    (b"PK\x03\x04", "a zip archive"),
    (b"BZh91AY&SY", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"(\xb5/\xfd", "zstandard data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)
# The start of a page saved where a CSV was expected.
_HTML_MARKERS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<title")


# The sources with a size limit (``SourceSettings.<source>_max_bytes``).
LIMITED_SOURCES = ("football-data", "understat", "fbref", "transfermarkt")


def max_bytes(source: str) -> int:
    """The largest file (and decompressed body) of ``source`` that is read, in bytes."""
    settings = get_source_settings()
    return int(getattr(settings, f"{source.replace('-', '_')}_max_bytes"))


def limit_setting(source: str) -> str:
    """The environment variable holding ``source``'s size limit."""
    return f"SABISCORE_{source.replace('-', '_').upper()}_MAX_BYTES"


def check_size(size: int, name: str, source: str, *, what: str = "the file") -> None:
    """Reject ``name`` when ``size`` bytes are more than the source's limit."""
    limit = max_bytes(source)
    if size > limit:
        raise RejectedFile(
            name,
            "too_large",
            f"{what} is {size:,} bytes, more than the {source} limit of {limit:,} bytes "
            f"({limit_setting(source)}); not read",
        )


def read_file(path: Path, source: str) -> bytes:
    """The bytes of ``path``, refused (check ``too_large``) before reading when over the limit.

    ``OSError`` (a missing or unreadable file) is left to the caller.
    """
    check_size(path.stat().st_size, str(path), source)
    with path.open("rb") as handle:
        raw = handle.read(max_bytes(source) + 1)
    check_size(len(raw), str(path), source)  # the file grew while it was read
    return raw


def decompress(raw: bytes, name: str, source: str) -> bytes:
    """The content of a gzip body (any number of members), or ``raw`` when it is not gzip.

    At most the source's limit is decompressed: a larger content (a gzip bomb)
    is rejected with ``too_large`` before it is held in memory; a corrupt header,
    a damaged or truncated stream with ``compression``.
    """
    check_size(len(raw), name, source)
    for magic, what in _OTHER_CONTAINERS:
        if raw.startswith(magic):
            raise RejectedFile(
                name,
                "compression",
                f"the content is {what}, which is not read: only plain or gzip files are",
            )
    if not raw.startswith(GZIP_MAGIC):
        if name.lower().endswith(".gz") and b"\x00" in raw[:4096]:
            raise RejectedFile(
                name,
                "compression",
                f"named .gz but the content is neither gzip (it starts {raw[:8].hex(' ')}, "
                "not 1f 8b) nor text: a corrupt gzip header?",
            )
        return raw
    limit = max_bytes(source)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as stream:
            content = stream.read(limit + 1)
    except EOFError:
        raise RejectedFile(
            name,
            "compression",
            f"the gzip stream of {len(raw):,} bytes ends before its end marker: the file was "
            "cut short; fetch it again",
        ) from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise RejectedFile(
            name, "compression", f"not a readable gzip stream ({exc}): a corrupt file?"
        ) from None
    if len(content) > limit:
        raise RejectedFile(
            name,
            "too_large",
            f"the gzip content is more than the {source} limit of {limit:,} bytes "
            f"({limit_setting(source)}) once decompressed ({len(raw):,} bytes compressed); "
            "not read",
        )
    return content


# ------------------------------------------------------------------------------ decoding

# One UTF-8 multi-byte sequence (RFC 3629: no overlong forms, no surrogates).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# What a UTF-8 lead byte and its continuation bytes look like once read as cp1252/Latin-1.
_CP1252_CONTINUATIONS = "".join(
    bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(0x80, 0xC0)
)
_MOJIBAKE = re.compile("[\u00c2-\u00f4][" + re.escape(_CP1252_CONTINUATIONS) + "]{1,3}")


def _line_of(raw: bytes | str, position: int) -> int:
    if isinstance(raw, bytes):
        return raw.count(b"\n", 0, position) + 1
    return raw.count("\n", 0, position) + 1


def _single_byte(text: str) -> bytes | None:
    """``text`` as the cp1252/Latin-1 bytes it was decoded from (None if it was not)."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) > 0xFF:
                return None
            out.append(ord(char))
    return bytes(out)


def find_mojibake(text: str) -> tuple[int, str, str] | None:
    """The first UTF-8 sequence read as cp1252/Latin-1 in ``text``: (line, seen, meant)."""
    for match in _MOJIBAKE.finditer(text):
        lead = ord(match.group()[0])
        seen = match.group()[: 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4]
        encoded = _single_byte(seen)
        if encoded is None:
            continue
        try:
            meant = encoded.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return _line_of(text, match.start()), seen, meant
    return None


def _reject_mojibake(text: str, name: str, encoding: str) -> None:
    found = find_mojibake(text)
    if found is None:
        return
    line, seen, meant = found
    raise RejectedFile(
        name,
        "encoding",
        f"line {line}: {seen!r} (bytes {seen.encode(encoding).hex(' ')} as {encoding}) is "
        f"UTF-8 for {meant!r} read as Latin-1/cp1252: the text was re-encoded (mojibake); "
        "fix the file's encoding",
    )


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])


def _reject_binary(raw: bytes, name: str) -> None:
    """Reject content with control bytes no text file holds (binary data, a compressed file)."""
    head = raw[:65536]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > max(8, len(head) // 200):
        raise RejectedFile(
            name,
            "encoding",
            f"binary content, not text: {controls:,} control bytes in the first {len(head):,} "
            f"(it starts {raw[:8].hex(' ')})",
        )


def decode_text(raw: bytes, name: str, *, single_byte: bool = True) -> tuple[str, str]:
    """Decode a whole file with one encoding; return ``(text, encoding)``.

    UTF-8 first (BOM dropped; the encoding is reported as ``utf-8-sig``).  A file
    that is not UTF-8 is read as cp1252 (``latin-1`` when it holds a byte cp1252
    leaves undefined) only when ``single_byte`` and it holds no UTF-8 sequence:
    otherwise it mixes encodings and is rejected with the line and bytes of both.
    UTF-8 text holding mojibake, and binary content, are rejected too.
    """
    _reject_binary(raw, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)  # after the BOM
        bad = raw[start : start + 4]
        where = f"line {_line_of(raw, start)}, byte {start:,}: {bad[:1].hex()}"
        if not single_byte:
            raise RejectedFile(
                name, "encoding", f"not UTF-8 ({where} cannot start a UTF-8 character)"
            ) from None
        sequence = _UTF8_SEQUENCE.search(raw)
        if sequence is not None:
            meant = sequence.group().decode("utf-8")
            shown = "a byte-order mark" if meant == "\ufeff" else repr(meant)
            raise RejectedFile(
                name,
                "encoding",
                f"mixed encodings: line {_line_of(raw, sequence.start())} holds UTF-8 "
                f"{shown} (bytes {sequence.group().hex(' ')}) but {where} is not UTF-8 "
                f"(Latin-1/cp1252 {bad[:1].decode('latin-1')!r}?); one encoding per file",
            ) from None
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return raw.decode("latin-1"), "latin-1"
    _reject_mojibake(text, name, "utf-8")
    return text, "utf-8-sig"


def sha256_hex(raw: bytes) -> str:
    """Hex SHA-256 of raw bytes (the archive's content address)."""
    return hashlib.sha256(raw).hexdigest()


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Decode a raw CSV: UTF-8 (BOM stripped), else, wholly, cp1252 (Latin-1).

    Rejects empty input, compressed content, HTML pages saved as CSV, binary or
    UTF-16 content, and mixed encodings or mojibake (see :func:`decode_text`).
    Returns ``(text, encoding)``.
    """
    if not raw.strip():
        raise RejectedFile(name, "empty", "the file has no content")
    if raw.startswith(GZIP_MAGIC):
        raise RejectedFile(
            name, "compression", "the content is gzip-compressed: a CSV is read uncompressed"
        )
    head = raw[:2048].lstrip().lower()
    if head.startswith(b"<") or any(marker in head for marker in _HTML_MARKERS):
        raise RejectedFile(
            name, "not_csv", "the content is an HTML/XML page (an error or block page?), not a CSV"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise RejectedFile(
            name, "encoding", "the content holds NUL bytes (UTF-16 or binary), not a text CSV"
        )
    return decode_text(raw, name)


@contextmanager
def parse_failures(name: str) -> Iterator[None]:
    """Turn an unexpected failure of a parser into a rejection (check ``parse``) of ``name``.

    A :class:`RejectedFile` passes through unchanged.
    """
    try:
        yield
    except RejectedFile:
        raise
    except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError) as exc:
        log.warning("%s: the parser failed", name, exc_info=True)
        raise RejectedFile(
            name, "parse", f"the content could not be parsed ({type(exc).__name__}: {exc})"
        ) from exc
    except (EOFError, OSError, zlib.error, RecursionError) as exc:
        log.warning("%s: the parser failed", name, exc_info=True)
        raise RejectedFile(
            name, "parse", f"the content could not be read ({type(exc).__name__}: {exc})"
        ) from exc
