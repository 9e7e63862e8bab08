"""``run.config``: a live mapping over the run's config; every change is written to its record.

``run.config["lr"]``, ``run.config.lr``, ``update()``, ``setdefault()``, nested dicts: reading a
nested dict gives a dict whose changes write through to the run as well. A key that already
holds a different value is protected, as in W&B: changing it raises :class:`ConfigError` unless
``allow_val_change=True`` (per ``update`` call, or for the whole run with
``init(allow_val_change=True)``), so a hyperparameter is never overwritten by accident.

Values are made JSON-safe when they are set (``jsonable``): numpy scalars become numbers, paths
and unknown objects their text, tuples lists; what the record keeps is what queries show.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
from collections.abc import Mapping
from typing import Any, Protocol

from workbench.errors import ConfigError

__all__ = ["Config", "ConfigOwner", "check_config_key", "jsonable"]

_MAX_KEY = 1024
_MAX_TEXT = 10_000  # characters kept of an object's text (a model's repr can be megabytes)
_MAX_ITEMS = 10_000  # items kept of a list or array given as a config value
_MAX_DEPTH = 16
_INT64 = 2**63


class ConfigOwner(Protocol):
    """What a :class:`Config` reads and writes: a run (or a disabled one)."""

    def _config_root(self) -> dict[str, Any]: ...

    def _config_set(self, path: tuple[str, ...], items: Mapping[str, Any], *, allow_val_change: bool,
                    delete: tuple[str, ...] = ()) -> None: ...


def check_config_key(key: Any) -> str:
    """A config key as text; ``ConfigError`` for one a record cannot hold."""
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        key = str(key)  # W&B accepts numbers as keys and stores their text
    if not isinstance(key, str) or not key:
        raise ConfigError(f"config key {key!r} must be a non-empty string")
    if len(key) > _MAX_KEY:
        raise ConfigError(f"config key {key[:40]!r}... is longer than {_MAX_KEY} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ConfigError(f"config key {key!r} holds control characters; use printable text")
    return key


def _text(value: Any) -> str:
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the rest of the config
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON a record can hold (numbers, text, booleans, null, lists, objects)."""
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) or len(value) <= 1024 * 1024 else value[: 1024 * 1024]
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, float):
        return float(value)  # NaN and infinities stay: records keep them (store/_atomic.dumps_json)
    if depth >= _MAX_DEPTH:
        return _text(value)
    if isinstance(value, Mapping):
        return {check_config_key(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, depth + 1) for v in list(items)[:_MAX_ITEMS]]
    if isinstance(value, enum.Enum):
        return jsonable(value.value, depth + 1)
    if isinstance(value, os.PathLike):
        return os.fspath(value) if isinstance(os.fspath(value), str) else _text(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), depth + 1)
    # numpy and torch scalars and small arrays (no import: duck typing)
    item, tolist = getattr(value, "item", None), getattr(value, "tolist", None)
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    count = size if isinstance(size, int) else (numel() if callable(numel) else None)
    if callable(tolist) and isinstance(count, int) and count <= _MAX_ITEMS:
        try:
            return jsonable(tolist(), depth + 1)
        except Exception:  # noqa: BLE001 - fall back to the text
            return _text(value)
    if callable(item) and count == 1:
        try:
            return jsonable(item(), depth + 1)
        except Exception:  # noqa: BLE001
            return _text(value)
    if type(value).__name__ == "Namespace" and hasattr(value, "__dict__"):  # argparse
        return jsonable({k: v for k, v in vars(value).items() if not k.startswith("_")}, depth + 1)
    return _text(value)


class KeyAttributes:
    """Keys read, set and deleted as attributes too (``run.config.lr``, ``run.summary.best = 1``),
    as W&B's config and summary allow; ``_noun`` names the mapping in the error for a missing key."""

    __slots__ = ()
    _noun = "mapping"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]  # type: ignore[index]
        except KeyError:
            raise AttributeError(f"{self._noun} has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


class _ThroughItems:
    """``setdefault``, ``pop`` and ``popitem`` of a config dict, made of its own ``__setitem__`` and
    ``__delitem__`` so that they write through to the run too (dict's own would not)."""

    __slots__ = ()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:  # type: ignore[operator]
            self[key] = default  # type: ignore[index]
        return self[key]  # type: ignore[index]

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self and default:  # type: ignore[operator]
            return default[0]
        value = self[key]  # type: ignore[index]
        del self[key]  # type: ignore[attr-defined]
        return value

    def popitem(self) -> tuple[str, Any]:
        key = next(reversed(self))  # type: ignore[call-overload]
        return key, self.pop(key)


class _Nested(_ThroughItems, dict):  # type: ignore[type-arg]
    """A nested config dict as read from ``run.config``: a plain dict whose changes write through."""

    def __init__(self, owner: ConfigOwner, path: tuple[str, ...], data: Mapping[str, Any]) -> None:
        super().__init__((k, _wrap(owner, (*path, k), v)) for k, v in data.items())
        self._owner = owner
        self._path = path

    def __setitem__(self, key: str, value: Any) -> None:
        key = check_config_key(key)
        self._owner._config_set(self._path, {key: value}, allow_val_change=False)
        super().__setitem__(key, _wrap(self._owner, (*self._path, key), jsonable(value)))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._owner._config_set(self._path, {}, allow_val_change=True, delete=(key,))
        super().__delitem__(key)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config {'.'.join(self._path)} has no key {name!r}") from None

    def update(self, *args: Any, allow_val_change: bool = False, **kwargs: Any) -> None:
        items = {check_config_key(k): v for k, v in dict(*args, **kwargs).items()}
        self._owner._config_set(self._path, items, allow_val_change=allow_val_change)
        for key, value in items.items():
            super().__setitem__(key, _wrap(self._owner, (*self._path, key), jsonable(value)))

    def __ior__(self, other: Any) -> _Nested:  # type: ignore[misc]
        self.update(other)
        return self


    def clear(self) -> None:
        keys = tuple(self)
        if keys:
            self._owner._config_set(self._path, {}, allow_val_change=True, delete=keys)
            super().clear()

    def __reduce__(self) -> Any:  # pickle and copy give a plain dict
        return (dict, (dict(self),))


def _wrap(owner: ConfigOwner, path: tuple[str, ...], value: Any) -> Any:
    return _Nested(owner, path, value) if isinstance(value, dict) else value


class Config(KeyAttributes, _ThroughItems, dict):  # type: ignore[type-arg]
    """The live config of a run: ``run.config`` (and ``workbench.config`` for the current run).

    A dict (``json.dumps(run.config)`` and ``isinstance(run.config, dict)`` work) whose changes
    are written to the run's record at once.

    Examples
    --------
    >>> run.config.update({"epochs": 3})  # doctest: +SKIP
    >>> run.config.batch_size = 32  # doctest: +SKIP
    >>> run.config["optim"]["lr"]  # doctest: +SKIP
    0.001
    """

    __slots__ = ("_owner",)
    _noun = "config"

    def __init__(self, owner: ConfigOwner) -> None:
        object.__setattr__(self, "_owner", owner)
        self._refresh(owner._config_root())

    def _refresh(self, data: Mapping[str, Any]) -> None:
        """Show ``data``, the owner's config after a change."""
        dict.clear(self)
        dict.update(self, ((k, _wrap(self._owner, (k,), v)) for k, v in data.items()))

    def __setitem__(self, key: str, value: Any) -> None:
        self._owner._config_set((), {check_config_key(key): value}, allow_val_change=False)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._owner._config_set((), {}, allow_val_change=True, delete=(key,))

    def update(self, *args: Any, allow_val_change: bool = False, **kwargs: Any) -> None:
        """Set several keys in one write. ``allow_val_change=True`` lets a key change its value."""
        if len(args) > 1:
            raise TypeError(f"config.update takes one mapping, not {len(args)} arguments")
        given: Any = args[0] if args else {}
        if given is None:
            given = {}
        elif not isinstance(given, Mapping):
            given = jsonable(given)  # a dataclass or an argparse namespace
            if not isinstance(given, Mapping):
                raise TypeError(f"config.update takes a dict, a dataclass or a namespace, not {type(args[0]).__name__}")
        items = {check_config_key(k): v for k, v in {**given, **kwargs}.items()}
        self._owner._config_set((), items, allow_val_change=allow_val_change)

    def __ior__(self, other: Any) -> Config:  # type: ignore[misc]
        self.update(other)
        return self

    def setdefaults(self, defaults: Mapping[str, Any]) -> None:
        """Set the keys of ``defaults`` that the config does not have (W&B's sweep pattern)."""
        missing = {check_config_key(k): v for k, v in defaults.items() if k not in self}
        if missing:
            self._owner._config_set((), missing, allow_val_change=False)


    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def as_dict(self) -> dict[str, Any]:
        """A deep copy, as plain dicts."""
        import copy

        return copy.deepcopy(self._owner._config_root())

    def __reduce__(self) -> Any:  # pickle and copy give a plain dict
        return (dict, (self.as_dict(),))

    def __repr__(self) -> str:
        return f"Config({self._owner._config_root()!r})"


def same_config(a: Any, b: Any) -> bool:
    """Equal as the record stores them (NaN equals NaN: setting the same config twice is no change)."""
    if a == b:
        return True
    from workbench.store._atomic import dumps_json

    try:
        return dumps_json(a) == dumps_json(b)
    except (TypeError, ValueError):
        return False


def set_items(root: dict[str, Any], path: tuple[str, ...], items: Mapping[str, Any], *,
              allow_val_change: bool, delete: tuple[str, ...] = ()) -> dict[str, Any]:
    """A new config: ``root`` with ``items`` set (and ``delete`` removed) in the dict at ``path``.

    Raises :class:`ConfigError`, changing nothing, when a key would change its value and
    ``allow_val_change`` is false.
    """
    import copy

    new = copy.deepcopy(root)
    target = new
    for depth, part in enumerate(path):
        inner = target.get(part)
        if not isinstance(inner, dict):  # a stale nested dict: its place was changed or removed since
            name = ".".join(path[: depth + 1])
            raise ConfigError(f"config key {name!r} is no longer a dict; read run.config[{path[0]!r}] again")
        target = inner
    for key, value in items.items():
        clean = jsonable(value)
        if not allow_val_change and key in target and not same_config(target[key], clean):
            name = ".".join((*path, key))
            raise ConfigError(
                f"config key {name!r} is already {target[key]!r}; not changed to {clean!r}. Pass "
                f"allow_val_change=True to config.update() (or to workbench.init()) to change it"
            )
        target[key] = clean
    for key in delete:
        target.pop(key, None)
    return new
