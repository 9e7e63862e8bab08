"""The remote's listing arrives through gzip (issue 18): read back exactly, and bounded, since the
remote may be hostile: a gzip bomb or a damaged stream is refused with a RemoteError."""

from __future__ import annotations

import gzip
import zlib

import pytest

from workbench.errors import RemoteError
from workbench.remote._sync import _MAX_LISTING, _listing_bytes

LISTING = b"".join(b"f\t1m99abc%04d/metrics/s-000001.parquet\t2048\t1796689614.123\x00" % i for i in range(500))


def test_a_plain_or_gzipped_listing_reads_back_exactly() -> None:
    assert _listing_bytes(LISTING, "gpu") == LISTING
    packed = gzip.compress(LISTING, compresslevel=1)
    assert len(packed) * 5 < len(LISTING)  # full paths repeat: the listing shrinks several times
    assert _listing_bytes(packed, "gpu") == LISTING


def test_a_gzip_bomb_is_refused_not_inflated() -> None:
    deflate = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 24)
    bomb = b"".join(deflate.compress(chunk) for _ in range(_MAX_LISTING // len(chunk) + 2)) + deflate.flush()
    assert len(bomb) < 2 << 20  # a few hundred KB that would inflate past the limit
    with pytest.raises(RemoteError, match="listing of more than 256 MiB"):
        _listing_bytes(bomb, "gpu")


def test_a_damaged_gzip_listing_is_a_remote_error() -> None:
    packed = bytearray(gzip.compress(LISTING))
    packed[len(packed) // 2] ^= 0xFF
    with pytest.raises(RemoteError, match="damaged listing"):
        _listing_bytes(bytes(packed), "gpu")


def test_a_cut_gzip_listing_is_a_remote_error() -> None:
    packed = gzip.compress(LISTING)
    with pytest.raises(RemoteError, match="damaged listing"):
        _listing_bytes(packed[: len(packed) // 2], "gpu")
