"""System metrics (``sys/*`` keys) sampled by a live run's background thread; needs psutil.

Per process: ``sys/cpu_percent``, ``sys/rss_mb``, ``sys/memory_percent``. Per GPU, when NVML works
(``pynvml``, from the ``nvidia-ml-py`` distribution, and an NVIDIA driver): ``sys/gpu{i}_util_percent``,
``sys/gpu{i}_memory_util_percent``, ``sys/gpu{i}_memory_used_mb``, ``sys/gpu{i}_memory_total_mb``,
``sys/gpu{i}_temperature_c`` and ``sys/gpu{i}_power_w`` (device-wide: every process on the GPU).
``sys/gpu{i}_memory_mb`` keeps its meaning: the memory this process's torch tensors hold
(``torch.cuda.memory_allocated``), logged when the run uses torch with CUDA, NVML or not.
``i`` counts the devices this process sees, as CUDA does (``CUDA_VISIBLE_DEVICES``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.tracking.run import Run

__all__ = ["SystemSampler"]

_MB = 2**20


class _Nvml:
    """NVML for this process: initialised on first use (never at ``import workbench``), once per
    process (again after a fork); any NVML error but "not supported" turns it off for the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._off = False
        self._nvml: Any = None
        self._devices: list[Any] = []
        #: (device index, metric) pairs the device said it does not support: not asked again
        self._unsupported: set[tuple[int, str]] = set()

    def _start(self) -> None:
        self._pid, self._devices, self._unsupported = os.getpid(), [], set()
        try:
            import pynvml
        except Exception:  # noqa: BLE001 - not installed, or broken: no NVML
            self._off = True
            return
        self._nvml = pynvml
        pynvml.nvmlInit()  # raises NVMLError without a driver: caught by the caller, NVML off
        self._devices = self._visible(pynvml)

    @staticmethod
    def _visible(pynvml: Any) -> list[Any]:
        """Handles of the devices this process sees, in CUDA's order (CUDA_VISIBLE_DEVICES: indexes
        or GPU-UUIDs; an entry CUDA would not take ends the list, as it does for CUDA)."""
        listed = os.environ.get("CUDA_VISIBLE_DEVICES")
        count = int(pynvml.nvmlDeviceGetCount())
        if listed is None:
            return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        handles = []
        for entry in (e.strip() for e in listed.split(",")):
            if entry.isdigit() and int(entry) < count:
                handles.append(pynvml.nvmlDeviceGetHandleByIndex(int(entry)))
            elif entry.startswith("GPU-"):
                handles.append(pynvml.nvmlDeviceGetHandleByUUID(entry))
            else:
                break  # MIG devices, bad entries: CUDA stops here too
        return handles

    def sample(self) -> dict[str, float]:
        with self._lock:
            if self._off:
                return {}
            try:
                if self._pid != os.getpid():
                    self._start()
                    if self._off:
                        return {}
                return self._read()
            except Exception:  # noqa: BLE001 - NVML failed: off for this process, the run goes on
                self._off = True
                return {}

    def _read(self) -> dict[str, float]:
        nvml, values = self._nvml, {}
        for index, handle in enumerate(self._devices):
            prefix = f"sys/gpu{index}_"
            rates = self._ask(index, "util", nvml.nvmlDeviceGetUtilizationRates, handle)
            if rates is not None:
                values[prefix + "util_percent"] = float(rates.gpu)
                values[prefix + "memory_util_percent"] = float(rates.memory)
            memory = self._ask(index, "memory", nvml.nvmlDeviceGetMemoryInfo, handle)
            if memory is not None:
                values[prefix + "memory_used_mb"] = memory.used / _MB
                values[prefix + "memory_total_mb"] = memory.total / _MB
            temperature = self._ask(index, "temperature", nvml.nvmlDeviceGetTemperature, handle,
                                    getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
            if temperature is not None:
                values[prefix + "temperature_c"] = float(temperature)
            milliwatts = self._ask(index, "power", nvml.nvmlDeviceGetPowerUsage, handle)
            if milliwatts is not None:
                values[prefix + "power_w"] = milliwatts / 1000.0
        return values

    def _ask(self, index: int, metric: str, call: Any, *args: Any) -> Any:
        """``call(*args)``; None when the device does not support it (remembered); other NVML
        errors propagate (and turn NVML off)."""
        if (index, metric) in self._unsupported:
            return None
        try:
            return call(*args)
        except self._nvml.NVMLError as exc:
            if getattr(exc, "value", None) != getattr(self._nvml, "NVML_ERROR_NOT_SUPPORTED", 3):
                raise
            self._unsupported.add((index, metric))
            return None


_NVML = _Nvml()  # one per process: NVML is a process-wide library


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
            "sys/rss_mb": self._process.memory_info().rss / _MB,
            "sys/memory_percent": float(psutil.virtual_memory().percent),
        }
        values.update(_NVML.sample())
        torch = sys.modules.get("torch")  # only when the run already uses torch
        if torch is not None:
            try:
                if torch.cuda.is_available():
                    for index in range(torch.cuda.device_count()):
                        values[f"sys/gpu{index}_memory_mb"] = torch.cuda.memory_allocated(index) / _MB
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
