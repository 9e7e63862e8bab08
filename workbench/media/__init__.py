"""Media logged with ``run.log``: images, tables, histograms, text and audio (docs/media.md).

The value types check their input in ``run.log`` and are encoded on the run's background
flusher; the bytes are content-addressed blobs shared with artifacts (stored once however many
runs log them), and each run has a media index (parquet) that :func:`media` and the ``media``
view of ``sql()`` read.
"""

from workbench.media.api import load_media, media, media_bytes
from workbench.media.types import KINDS, Audio, Histogram, Image, Media, Table, Text

__all__ = ["KINDS", "Audio", "Histogram", "Image", "Media", "Table", "Text", "load_media", "media", "media_bytes"]
