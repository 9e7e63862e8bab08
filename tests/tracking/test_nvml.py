"""GPU metrics through NVML (issue 13).

This machine has no GPU, so most tests put a stand-in ``pynvml`` module (third-party: the
``nvidia-ml-py`` distribution) into ``sys.modules``; it answers fixed values for two devices,
and can be told to fail. Nothing of workbench's own is mocked: each test uses a fresh
``_Nvml`` (the real class; NVML is process-wide, so the module holds one) and the real sampler.
One test uses the real pynvml, which finds no driver here: sampling goes on without GPU keys.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, require_module

import workbench as wb
from workbench.tracking import _system
from workbench.tracking._system import SystemSampler, _Nvml

MB = 2**20


class FakeNVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


def fake_pynvml(calls: list[str], fail: dict[str, int] | None = None, init_error: int | None = None) -> Any:
    """A stand-in ``pynvml`` for two devices; ``fail``: call name -> NVML error code it raises."""
    fail = fail or {}
    devices: dict[int, dict[str, Any]] = {
        0: {"uuid": "GPU-aaaa", "gpu": 87, "mem": 41, "used": 30_000 * MB, "total": 81_920 * MB, "temp": 64,
            "mw": 312_500},
        1: {"uuid": "GPU-bbbb", "gpu": 3, "mem": 0, "used": 512 * MB, "total": 81_920 * MB, "temp": 35,
            "mw": 71_250},
    }
    module = types.ModuleType("pynvml")

    def call(name: str, fn: Any) -> Any:
        def wrapped(*args: Any) -> Any:
            calls.append(name)
            handle = args[0] if args else None
            code = fail.get(f"{name}:{handle}", fail.get(name))
            if code is not None:
                raise FakeNVMLError(code)
            return fn(*args)
        return wrapped

    def init() -> None:
        calls.append("nvmlInit")
        if init_error is not None:
            raise FakeNVMLError(init_error)

    module.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
    module.NVML_ERROR_NOT_SUPPORTED = 3  # type: ignore[attr-defined]
    module.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]
    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = call("count", lambda: 2)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = call("handle", lambda i: i)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByUUID = call(  # type: ignore[attr-defined]
        "uuid", lambda u: next(i for i, d in devices.items() if d["uuid"] == u))
    module.nvmlDeviceGetUtilizationRates = call(  # type: ignore[attr-defined]
        "util", lambda h: types.SimpleNamespace(gpu=devices[h]["gpu"], memory=devices[h]["mem"]))
    module.nvmlDeviceGetMemoryInfo = call(  # type: ignore[attr-defined]
        "memory", lambda h: types.SimpleNamespace(used=devices[h]["used"], total=devices[h]["total"],
                                                  free=devices[h]["total"] - devices[h]["used"]))
    module.nvmlDeviceGetTemperature = call("temperature", lambda h, sensor: devices[h]["temp"])  # type: ignore[attr-defined]
    module.nvmlDeviceGetPowerUsage = call("power", lambda h: devices[h]["mw"])  # type: ignore[attr-defined]
    return module


EXPECTED = {
    "sys/gpu0_util_percent": 87.0, "sys/gpu0_memory_util_percent": 41.0, "sys/gpu0_memory_used_mb": 30_000.0,
    "sys/gpu0_memory_total_mb": 81_920.0, "sys/gpu0_temperature_c": 64.0, "sys/gpu0_power_w": 312.5,
    "sys/gpu1_util_percent": 3.0, "sys/gpu1_memory_util_percent": 0.0, "sys/gpu1_memory_used_mb": 512.0,
    "sys/gpu1_memory_total_mb": 81_920.0, "sys/gpu1_temperature_c": 35.0, "sys/gpu1_power_w": 71.25,
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A fresh process-wide NVML state and an empty CUDA_VISIBLE_DEVICES setting."""
    monkeypatch.setattr(_system, "_NVML", _Nvml())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield []


def test_two_devices_are_sampled(calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(calls))
    sampler = SystemSampler.create(0.01)
    assert sampler is not None
    values = sampler.sample()
    assert {k: v for k, v in values.items() if k.startswith("sys/gpu")} == EXPECTED
    assert {"sys/cpu_percent", "sys/rss_mb", "sys/memory_percent"} <= set(values)
    sampler.sample()
    assert calls.count("nvmlInit") == 1 and calls.count("count") == 1  # initialised once per process
    assert calls.count("util") == 4


def test_cuda_visible_devices_numbers_gpus_as_cuda_does(calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(calls))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb,0,MIG-x,1")
    values = _system._NVML.sample()
    assert values["sys/gpu0_temperature_c"] == 35.0 and values["sys/gpu1_temperature_c"] == 64.0
    assert not any(k.startswith("sys/gpu2") for k in values)  # CUDA stops at the entry it cannot take


def test_a_metric_a_device_lacks_is_left_out_and_not_asked_again(calls: list[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(calls, fail={"power:1": 3}))
    for _ in range(3):
        values = _system._NVML.sample()
    assert values == {k: v for k, v in EXPECTED.items() if k != "sys/gpu1_power_w"}
    assert calls.count("power") == 4  # device 0 three times, device 1 once


@pytest.mark.parametrize("fail, init_error", [({"memory:1": 15}, None), ({}, 9), ({"count": 999}, None)])
def test_an_nvml_error_turns_nvml_off_for_the_process(calls: list[str], monkeypatch: pytest.MonkeyPatch,
                                                      fail: dict[str, int], init_error: int | None) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(calls, fail=fail, init_error=init_error))
    sampler = SystemSampler.create(0.01)
    assert sampler is not None
    values = sampler.sample()  # no exception reaches the run
    assert not any(k.startswith("sys/gpu") for k in values) and "sys/cpu_percent" in values
    made = len(calls)
    sampler.sample()
    assert len(calls) == made  # off: NVML is not called again


def test_real_pynvml_without_a_driver_gives_no_gpu_keys(calls: list[str]) -> None:
    pynvml = require_module("pynvml")  # the system extra: CI has it
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver: the test is for machines without one")
    sampler = SystemSampler.create(0.01)
    assert sampler is not None
    values = sampler.sample()
    assert not any(k.startswith("sys/gpu") for k in values) and "sys/rss_mb" in values
    assert _system._NVML._off


def test_a_live_run_logs_gpu_keys(calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(calls))
    with wb.init(project="p", root=tmp_path / "store", flush_interval=0.05, capture_output=False,
                 system_metrics=True, system_metrics_interval=0.01) as run:
        for step in range(5):
            run.log({"x": float(step)})
            __import__("time").sleep(0.03)
    record = wb.get_run(run.id, root=tmp_path / "store")
    assert record["summary"]["sys/gpu1_power_w"] == 71.25
    assert record["metrics"]["sys/gpu0_memory_used_mb"]["last"] == 30_000.0


def test_import_workbench_does_not_import_pynvml() -> None:
    code = "import sys, workbench; print(json.dumps(sorted(m for m in sys.modules if 'nvml' in m)))"
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                          timeout=60, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
