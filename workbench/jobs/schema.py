"""Config schemas of recipes: each key's type, default, limits and help; unknown keys refused."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.errors import JobError

__all__ = ["TYPES", "Field", "resolve_config"]

#: the value types a field can take
TYPES = ("int", "float", "bool", "str", "list", "dict", "argv")


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key of a recipe.

    Parameters
    ----------
    name:
        The key, e.g. ``"learning_rate"``.
    type:
        One of ``int``, ``float``, ``bool``, ``str``, ``list`` (of strings), ``dict`` (of strings)
        or ``argv`` (a command: a list of strings, or a string split like a shell would).
    default:
        The value when neither the launch nor ``[recipes.NAME]`` in ``workbench.toml`` sets it.
    help:
        One line for ``workbench jobs recipes`` and the docs.
    choices:
        For ``str`` fields: the allowed words.
    minimum, maximum:
        For numbers: the allowed range (inclusive).
    nullable:
        ``None`` is allowed (meaning "decide for me", explained in ``help``).
    required:
        The launch must set it (or ``workbench.toml``).

    Examples
    --------
    >>> Field("epochs", "int", 3, "passes over the training set", minimum=1).check(2, "config")
    2
    """

    name: str
    type: str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    required: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"field {self.name!r}: type {self.type!r} is not one of {', '.join(TYPES)}")

    def _refuse(self, value: Any, source: str, why: str) -> JobError:
        return JobError(f"config key {self.name!r} from {source} is {value!r}: {why}")

    def check(self, value: Any, source: str) -> Any:
        """``value`` made canonical (ints for whole floats of int fields, lists for tuples)."""
        if value is None:
            if self.nullable or (self.default is None and not self.required):
                return None
            raise self._refuse(value, source, f"it needs a {self.type}")
        kind = self.type
        if kind == "bool":
            if not isinstance(value, bool):
                raise self._refuse(value, source, "it needs true or false")
            return value
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._refuse(value, source, f"it needs a number ({kind})")
            if kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise self._refuse(value, source, "it needs a whole number")
                value = int(value)
            else:
                value = float(value)
                if not math.isfinite(value):
                    raise self._refuse(value, source, "it needs a finite number")
            if self.minimum is not None and value < self.minimum:
                raise self._refuse(value, source, f"it must be at least {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise self._refuse(value, source, f"it must be at most {self.maximum:g}")
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise self._refuse(value, source, "it needs a string")
            if self.choices is not None and value not in self.choices:
                raise self._refuse(value, source, f"use one of {', '.join(self.choices)}")
            return value
        if kind == "argv":
            if isinstance(value, str):
                import shlex

                try:
                    value = shlex.split(value)
                except ValueError as exc:
                    raise self._refuse(value, source, f"it does not split into words: {exc}") from None
            if (
                isinstance(value, str)
                or not isinstance(value, Sequence)
                or not value
                or not all(isinstance(v, str) for v in value)
            ):
                raise self._refuse(
                    value, source, "it needs a command: a non-empty list of strings or a string"
                )
            return list(value)
        if kind == "list":
            if (
                isinstance(value, str)
                or not isinstance(value, Sequence)
                or not all(isinstance(v, str) for v in value)
            ):
                raise self._refuse(value, source, "it needs a list of strings")
            return list(value)
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._refuse(value, source, "it needs a mapping of strings to strings")
        return dict(value)

    def parse(self, text: str) -> Any:
        """A value from command-line text (``--set key=value``), checked."""
        source = f"--set {self.name}={text}"
        stripped = text.strip()
        if self.nullable and stripped.lower() in ("none", "null", ""):
            return None
        if self.type == "bool":
            lowered = stripped.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise self._refuse(text, source, "it needs true or false")
        if self.type in ("int", "float"):
            try:
                number: Any = int(stripped) if self.type == "int" else float(stripped)
            except ValueError:
                try:
                    number = float(stripped)
                except ValueError:
                    raise self._refuse(text, source, f"it needs a number ({self.type})") from None
            return self.check(number, source)
        if self.type in ("str", "argv"):
            return self.check(text, source)
        if self.type == "list":
            if stripped.startswith("["):
                try:
                    return self.check(json.loads(stripped), source)
                except ValueError:
                    raise self._refuse(text, source, "it is not a JSON list") from None
            return self.check([part.strip() for part in text.split(",") if part.strip()], source)
        try:
            return self.check(json.loads(stripped), source)
        except ValueError:
            raise self._refuse(text, source, 'it needs a JSON object such as {"KEY": "value"}') from None

    def describe(self) -> str:
        default = json.dumps(self.default) if self.default is not None or self.nullable else "(required)"
        extra = ""
        if self.choices:
            extra = f" [{'|'.join(self.choices)}]"
        return f"{self.name} ({self.type}, default {default}){extra}: {self.help}"


def _unknown(recipe: str, keys: list[str], valid: list[str], source: str) -> JobError:
    hints = []
    for key in keys:
        close = difflib.get_close_matches(key, valid, n=1)
        if close:
            hints.append(f"{key!r} -> {close[0]!r}?")
    hint = f" (did you mean {', '.join(hints)})" if hints else ""
    return JobError(
        f"recipe {recipe!r} has no config key {', '.join(map(repr, keys))} (from {source}){hint}; "
        f"valid keys: {', '.join(valid)}"
    )


def resolve_config(
    recipe: str,
    fields: Sequence[Field],
    given: Mapping[str, Any] | None,
    defaults: Mapping[str, Any] | None = None,
    *,
    defaults_source: str = "workbench.toml",
) -> dict[str, Any]:
    """The full config of a launch: field defaults, then ``defaults``, then ``given``.

    Raises
    ------
    JobError
        For an unknown key (naming the valid ones), a wrong type or value, or a missing
        required key.
    """
    by_name = {f.name: f for f in fields}
    valid = sorted(by_name)
    layers = [
        (defaults or {}, f"[recipes.{recipe}] in {defaults_source}"),
        (given or {}, "the launch config"),
    ]
    values: dict[str, Any] = {}
    for layer, source in layers:
        if not isinstance(layer, Mapping):
            raise JobError(
                f"the config of recipe {recipe!r} from {source} must be a dict, not {type(layer).__name__}"
            )
        unknown = [str(k) for k in layer if k not in by_name]
        if unknown:
            raise _unknown(recipe, unknown, valid, source)
        for key, value in layer.items():
            values[key] = by_name[key].check(value, source)
    out: dict[str, Any] = {}
    for field in fields:
        if field.name in values:
            out[field.name] = values[field.name]
        elif field.required:
            raise JobError(f"recipe {recipe!r} needs config key {field.name!r}: {field.help}")
        else:
            out[field.name] = (
                field.check(field.default, "the recipe's defaults") if field.default is not None else None
            )
    return out
