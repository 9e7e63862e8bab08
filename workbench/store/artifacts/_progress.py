"""Progress bars for hashing and copying: tqdm, imported only when a bar is shown.

``progress`` setting: ``auto`` shows a bar for work of at least 64 MiB when stderr is a terminal
or the code runs in a Jupyter kernel; ``always`` shows one for any size and any stderr (logs,
CI); ``never`` shows none. Without tqdm installed (``pip install 'workbench-ml[system]'``) there is
simply no bar.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["Progress"]

_AUTO_MIN_BYTES = 64 * 1024 * 1024


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def _make_bar(total: int, desc: str, mode: str) -> Any:
    notebook = _in_notebook()
    if mode == "never" or (
        mode == "auto"
        and (
            total < _AUTO_MIN_BYTES
            or not (notebook or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()))
        )
    ):
        return None
    try:
        if notebook:
            import ipywidgets  # noqa: F401  tqdm's notebook bar needs it; without it, the text bar
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        dynamic_ncols=True,
        file=None if notebook else sys.stderr,
        mininterval=0.2,
    )


class Progress:
    """``with Progress(total, "hashing", mode) as bar: bar.update(n)``; does nothing without a bar."""

    def __init__(self, total: int, desc: str, mode: str) -> None:
        self._bar = _make_bar(total, desc, mode)

    def update(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.close()
