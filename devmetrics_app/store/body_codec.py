"""Webhook bodies are stored lz4-compressed.

A 22 KB payload costs PostgreSQL about 0.25 ms to store as is (TOAST splits it into a dozen
chunks) and about 0.06 ms compressed (GitHub's JSON is mostly repeated URLs and keys: about 6x
smaller), for about 10 µs of lz4 here. Measured with benchmarks/ingest.py; see its README.
Small bodies are stored as they are.
"""

from __future__ import annotations

import lz4.block

IDENTITY = "identity"
LZ4 = "lz4"
COMPRESS_ABOVE_BYTES = 2048  # below TOAST's threshold compression buys nothing


def encode(body: bytes) -> tuple[bytes, str]:
    if len(body) <= COMPRESS_ABOVE_BYTES:
        return body, IDENTITY
    return lz4.block.compress(body, store_size=True), LZ4


def decode(stored: bytes, encoding: str) -> bytes:
    if encoding == LZ4:
        return lz4.block.decompress(stored)
    if encoding == IDENTITY:
        return bytes(stored)
    raise ValueError(f"unknown body encoding {encoding!r}")
