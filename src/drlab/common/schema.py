"""The shape of what a checkpoint holds, checked before any of it is used.

A checkpoint's checksum proves that the file is whole, not that its content is what drlab wrote: a file
re-saved by hand (or by another program) with a valid checksum may lack a field, hold a string where a
number belongs, an extra field, or a tensor of the wrong size. Each state that is saved (TP1's
``TrainState``, DQN's ``DQNState``) declares the structure of its ``state_dict`` with the specs below,
and :func:`check_structure` walks a loaded checkpoint against it: one line naming the first field that
does not fit, never a ``KeyError`` or a ``TypeError`` from deep inside a loader.

Specs: a Python type (``int`` and ``float`` refuse ``bool``; ``float`` takes an ``int``), ``None``, a
``dict`` of specs (exactly these keys), :class:`TensorSpec`, :class:`ListOf`, :class:`MapOf`,
:class:`OneOf`, :class:`IntIn`, :class:`Const`, :class:`Like` (the structure of an example value, for the
states PyTorch defines: an optimizer's or a scheduler's), or any function ``(value, path) -> problem or None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drlab.common.errors import UsageError


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of this shape (``None`` in it: any size on that axis; ``shape=None``: any shape) and dtype."""

    shape: tuple[int | None, ...] | None = None
    dtype: Any = None


@dataclass(frozen=True)
class ListOf:
    """A list (or tuple) whose every item fits ``item``; of exactly ``length`` items if given."""

    item: Any
    length: int | None = None


@dataclass(frozen=True)
class MapOf:
    """A dict whose keys are of type ``key`` and whose values fit ``value``."""

    key: type
    value: Any


@dataclass(frozen=True)
class OneOf:
    """A value that fits one of ``specs``."""

    specs: tuple[Any, ...]


@dataclass(frozen=True)
class IntIn:
    """An integer in ``[low, high]`` (``None``: unbounded on that side)."""

    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class Const:
    """Exactly this value."""

    value: Any


@dataclass(frozen=True)
class Like:
    """The structure of ``example``, leniently: the keys both dicts have hold values of the same kind
    (numbers finite, flags ``bool`` or ``None``, tensors of the same shape, lists of the same length);
    keys one of them lacks are let through, as PyTorch fills in the settings an older version did not save."""

    example: Any


def check_structure(value: Any, spec: Any, where: str) -> None:
    """Raise a one-line :class:`UsageError` (``where: field: what is wrong``) if ``value`` does not fit ``spec``."""
    problem = _problem(value, spec, "")
    if problem is not None:
        raise UsageError(f"{where}: {problem}")


def _kind(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


def _at(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _problem(value: Any, spec: Any, path: str) -> str | None:
    import torch

    here = path or "its content"
    if spec is None:
        return None if value is None else f"{here} should be empty (None), found {_kind(value)}"
    if isinstance(spec, type):
        if spec is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif spec is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, spec)
        return None if ok else f"{here} should be {spec.__name__}, found {_kind(value)}"
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{here} should be a dict, found {_kind(value)}"
        missing = [key for key in spec if key not in value]
        extra = [key for key in value if key not in spec]
        if missing or extra:
            what = (
                f"no {', '.join(map(str, missing))}"
                if missing
                else f"an unknown {', '.join(map(str, extra))}"
            )
            return f"{here} has {what} (expected {', '.join(map(str, spec))})"
        for key, item in spec.items():
            problem = _problem(value[key], item, _at(path, key))
            if problem is not None:
                return problem
        return None
    if isinstance(spec, TensorSpec):
        if not isinstance(value, torch.Tensor):
            return f"{here} should be a tensor, found {_kind(value)}"
        if spec.dtype is not None and value.dtype != spec.dtype:
            return f"{here} should be a {spec.dtype} tensor, found {value.dtype}"
        if spec.shape is not None and (
            value.dim() != len(spec.shape)
            or any(
                want is not None and got != want for got, want in zip(value.shape, spec.shape, strict=True)
            )
        ):
            return f"{here} should have shape {_shape(spec.shape)}, found {tuple(value.shape)}"
        return None
    if isinstance(spec, ListOf):
        if not isinstance(value, (list, tuple)):
            return f"{here} should be a list, found {_kind(value)}"
        if spec.length is not None and len(value) != spec.length:
            return f"{here} should hold {spec.length} items, found {len(value)}"
        for index, item in enumerate(value):
            problem = _problem(item, spec.item, f"{here}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            return f"{here} should be a dict, found {_kind(value)}"
        for key, item in value.items():
            if not isinstance(key, spec.key) or isinstance(key, bool):
                return f"{here} has a key {key!r}, not a {spec.key.__name__}"
            problem = _problem(item, spec.value, _at(path, key))
            if problem is not None:
                return problem
        return None
    if isinstance(spec, OneOf):
        problems = [_problem(value, option, path) for option in spec.specs]
        return None if any(p is None for p in problems) else problems[-1]
    if isinstance(spec, IntIn):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{here} should be int, found {_kind(value)}"
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            return f"{here} should be in [{spec.low}, {spec.high}], found {value}"
        return None
    if isinstance(spec, Const):
        return None if _same(value, spec.value) else f"{here} should be {spec.value!r}, found {_kind(value)}"
    if isinstance(spec, Like):
        return _unlike(value, spec.example, path)
    if callable(spec):
        found: str | None = spec(value, here)
        return found
    raise TypeError(f"not a schema spec: {spec!r}")


def _same(value: Any, expected: Any) -> bool:
    # plain equality, never a tensor's element-wise == (whose truth value is an error)
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(expected)
            and all(_same(v, e) for v, e in zip(value, expected, strict=True))
        )
    return type(value) is type(expected) and bool(value == expected)


def _shape(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("any" if n is None else str(n) for n in shape) + ")"


def _unlike(value: Any, example: Any, path: str) -> str | None:
    import torch

    here = path or "its content"
    if isinstance(example, torch.Tensor):
        return _problem(value, TensorSpec(tuple(example.shape)), path)
    if example is None or isinstance(example, bool):
        ok = value is None or isinstance(value, bool)
        return None if ok else f"{here} should be a flag (True, False or None), found {_kind(value)}"
    if isinstance(example, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else f"{here} should be a finite number, found {_kind(value)}"
    if isinstance(example, str):
        return None if isinstance(value, str) else f"{here} should be a string, found {_kind(value)}"
    if isinstance(example, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(example):
            return f"{here} should be a list of {len(example)} items, found {_kind(value)}"
        for index, (item, like) in enumerate(zip(value, example, strict=True)):
            problem = _unlike(item, like, f"{here}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(example, Mapping):
        if not isinstance(value, dict):
            return f"{here} should be a dict, found {_kind(value)}"
        for key in example.keys() & value.keys():
            problem = _unlike(value[key], example[key], _at(path, key))
            if problem is not None:
                return problem
        return None
    return None if type(value) is type(example) else f"{here} should be {type(example).__name__}"


def module_state(module: Any) -> dict[str, TensorSpec]:
    """The spec of ``module.state_dict()``: exactly its keys, each tensor of its shape and dtype."""
    return {name: TensorSpec(tuple(t.shape), t.dtype) for name, t in module.state_dict().items()}


def optimizer_state(optimizer: Any) -> Callable[[Any, str], str | None]:
    """The spec of ``optimizer.state_dict()``: its parameter groups (same parameters, finite settings)
    and, per parameter, tensors of that parameter's shape (or scalars, like Adam's step count)."""
    import torch

    template = optimizer.state_dict()
    shapes = {
        index: tuple(param.shape)
        for group, saved in zip(optimizer.param_groups, template["param_groups"], strict=True)
        for index, param in zip(saved["params"], group["params"], strict=True)
    }
    layout = {
        "state": MapOf(int, MapOf(str, object)),
        "param_groups": ListOf(dict, len(template["param_groups"])),
    }

    def check(value: Any, path: str) -> str | None:
        problem = _problem(value, layout, path)
        if problem is not None:
            return problem
        for index, (group, like) in enumerate(
            zip(value["param_groups"], template["param_groups"], strict=True)
        ):
            at = f"{path}.param_groups[{index}]"
            settings = {key: item for key, item in like.items() if key != "params"}
            problem = (
                _problem(group.get("params"), Const(like["params"]), f"{at}.params")
                or _unlike(group.get("lr"), 0.0, f"{at}.lr")
                or _unlike(group, settings, at)
            )
            if problem is not None:
                return problem
        for index, entries in value["state"].items():
            if index not in shapes:
                return f"{path}.state has parameter {index}, which this model does not have"
            for key, item in entries.items():
                if item is None or (isinstance(item, (int, float)) and not isinstance(item, bool)):
                    continue
                if not isinstance(item, torch.Tensor) or tuple(item.shape) not in ((), shapes[index]):
                    return (
                        f"{path}.state.{index}.{key} should be a tensor of shape {shapes[index]} or a "
                        f"number, found {_kind(item)}"
                    )
        return None

    return check
