"""Real MLflow stores for the importer tests, written by ``mlflow`` itself (its fluent API and its
client); :func:`write_store` returns what it gave MLflow, for value-by-value checks."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: metric timestamps given to MLflow (milliseconds, as it keeps them)
BASE_MS = 1_700_000_000_123
#: params as logged (Python values; MLflow stores str() of each)
PARAMS: dict[str, Any] = {"lr": 0.001, "epochs": 3, "use_amp": True, "optimizer": "adam", "layers": [64, 32],
                          "dropout": None, "zip": "00123", "decay": 1e-05, "flag": "false", "shape": (3, 3)}
#: what the importer makes of them (``zip`` and the tuple's str() do not parse back losslessly)
TYPED: dict[str, Any] = {"lr": 0.001, "epochs": 3, "use_amp": True, "optimizer": "adam", "layers": [64, 32],
                         "dropout": None, "zip": "00123", "decay": 1e-05, "flag": False, "shape": "(3, 3)"}
LOSS = [(0, 0.9, BASE_MS), (1, 0.5, BASE_MS + 1_001), (2, 0.25, BASE_MS + 2_002), (5, 0.125, BASE_MS + 5_555)]
ACC = [(0, 0.1, BASE_MS + 7), (1, 0.6, BASE_MS + 1_017), (2, 0.8, BASE_MS + 2_027)]
NOTE = "first try\nwith a second line"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow warns (deprecations, the file store's maintenance mode); the suite turns warnings
    into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def file_store_allowed() -> Iterator[None]:
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


def write_store(uri: str, artifacts: Path, work: Path) -> dict[str, Any]:
    """Experiment "exp-a": a finished run ``train`` (params of several types, two metrics with
    steps and timestamps, tags, a note, an artifact file and a folder) with a failed nested child,
    a killed run, a run still running and a deleted run. Returns the run ids and what was logged."""
    import mlflow
    from mlflow import MlflowClient

    with quiet(), file_store_allowed():
        client = MlflowClient(tracking_uri=uri)
        experiment = client.create_experiment("exp-a", artifact_location=artifacts.as_uri())
        mlflow.set_tracking_uri(uri)
        try:
            mlflow.set_experiment(experiment_id=experiment)
            with mlflow.start_run(run_name="train",
                                  tags={"mlflow.source.git.commit": COMMIT, "mlflow.source.name": "train.py",
                                        "team": "nlp", "baseline": ""}) as run:
                train = run.info.run_id
                mlflow.log_params(PARAMS)
                for key, points in (("loss", LOSS), ("acc", ACC)):
                    for step, value, ms in points:
                        mlflow.log_metric(key, value, step=step, timestamp=ms)
                mlflow.set_tag("mlflow.note.content", NOTE)
                mlflow.log_text("hello", "readme.txt")
                folder = work / "model"
                (folder / "sub").mkdir(parents=True)
                (folder / "weights.bin").write_bytes(b"\x00\x01weights")
                (folder / "sub" / "config.json").write_text('{"a": 1}')
                mlflow.log_artifacts(str(folder), artifact_path="model")
                with mlflow.start_run(run_name="child", nested=True) as nested:
                    child = nested.info.run_id
                    mlflow.log_param("fold", 1)
                    mlflow.log_metric("loss", 2.5, step=0, timestamp=BASE_MS + 100)
                    mlflow.end_run(status="FAILED")
            with mlflow.start_run(run_name="stopped") as run:
                killed = run.info.run_id
                mlflow.log_metric("loss", 1.0, step=0, timestamp=BASE_MS)
                mlflow.end_run(status="KILLED")
        finally:
            mlflow.set_tracking_uri(None)
        running = client.create_run(experiment, run_name="live", start_time=BASE_MS).info.run_id
        deleted = client.create_run(experiment, run_name="gone").info.run_id
        client.delete_run(deleted)
    return {"experiment": experiment, "train": train, "child": child, "killed": killed, "running": running,
            "deleted": deleted}


def grow(uri: str, ids: dict[str, Any]) -> str:
    """Two more loss points on ``train`` and a new finished run; the new run's id."""
    from mlflow import MlflowClient

    with quiet(), file_store_allowed():
        client = MlflowClient(tracking_uri=uri)
        client.log_metric(ids["train"], "loss", 0.0625, timestamp=BASE_MS + 9_000, step=9)
        client.log_metric(ids["train"], "loss", 0.03125, timestamp=BASE_MS + 10_000, step=10)
        new = client.create_run(ids["experiment"], run_name="later", start_time=BASE_MS + 20_000)
        client.log_param(new.info.run_id, "lr", "0.5")
        client.log_metric(new.info.run_id, "loss", 0.5, timestamp=BASE_MS + 21_000, step=3)
        client.set_terminated(new.info.run_id, "FINISHED", end_time=BASE_MS + 22_000)
    return str(new.info.run_id)
