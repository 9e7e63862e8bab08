"""System metrics (``sys/*`` keys) sampled by a live run's background thread; needs psutil."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.tracking.run import Run

__all__ = ["SystemSampler"]


class SystemSampler:
    def __init__(self, psutil: Any, interval: float) -> None:
        self._psutil = psutil
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # the first call only primes the counter
        self._interval = interval
        self._next = time.monotonic() + interval

    @classmethod
    def create(cls, interval: float) -> SystemSampler | None:
        try:
            import psutil
        except ImportError:
            return None
        return cls(psutil, interval)

    def sample(self) -> dict[str, float]:
        psutil = self._psutil
        values: dict[str, float] = {
            "sys/cpu_percent": float(self._process.cpu_percent(None)),
            "sys/rss_mb": self._process.memory_info().rss / 2**20,
            "sys/memory_percent": float(psutil.virtual_memory().percent),
        }
        torch = sys.modules.get("torch")  # only when the run already uses torch
        if torch is not None:
            try:
                if torch.cuda.is_available():
                    for index in range(torch.cuda.device_count()):
                        values[f"sys/gpu{index}_memory_mb"] = torch.cuda.memory_allocated(index) / 2**20
            except Exception:  # noqa: BLE001 - a broken CUDA setup must not stop logging
                pass
        return values

    def maybe_sample(self, run: Run) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        step = max(run._step - 1, 0)
        run._buffer.append((step, time.time(), self.sample()))
