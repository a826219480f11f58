"""Optional gzip: data starting with the gzip magic `1f 8b` is decompressed, anything else
(including a lone `1f`) passes through. Only the first gzip member is read; bytes after it
are ignored, as upstream's single-member decoder does."""

from __future__ import annotations

import zlib

from .errors import DecompressFailed

__all__ = ["GZIP_MAGIC", "decode_text", "expand_maybe"]

GZIP_MAGIC = b"\x1f\x8b"


def expand_maybe(data: bytes, source: str = "user data") -> bytes:
    """`data` decompressed when it starts with the gzip magic, else unchanged."""
    if data[:2] != GZIP_MAGIC:
        return data
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data)
    except zlib.error as exc:
        raise DecompressFailed(source, str(exc)) from exc
    if not decompressor.eof:
        raise DecompressFailed(source, "the gzip stream is truncated")
    return out


def decode_text(data: bytes, source: str = "user data") -> str:
    """`expand_maybe`, then UTF-8 decoding."""
    expanded = expand_maybe(data, source)
    try:
        return expanded.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecompressFailed(source, f"not UTF-8 text ({exc})") from exc
