"""Arrow arrays built straight from numpy buffers.

``pyarrow.array()`` imports pandas on first use (about 0.5 s, holding the GIL): a training
process would stall in its flusher thread. These helpers build the same arrays without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["dictionary_array", "numeric_array", "string_array"]


def numeric_array(values: Any, arrow_type: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(values)])


def string_array(values: Sequence[str]) -> Any:
    import numpy as np
    import pyarrow as pa

    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    if encoded:
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def dictionary_array(codes: Any, dictionary: Sequence[str]) -> Any:
    import numpy as np
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(
        numeric_array(codes.astype(np.int32, copy=False), pa.int32()), string_array(dictionary)
    )


def to_numpy(array: Any, dtype: Any) -> Any:
    """A null-free fixed-width arrow Array as a numpy view (``Array.to_numpy`` imports pandas)."""
    import numpy as np

    if array.null_count:
        raise ValueError("to_numpy() needs an array without nulls")
    buffer = array.buffers()[1]
    return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=array.offset * np.dtype(dtype).itemsize)
