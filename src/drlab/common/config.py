"""Typed dataclass configs, and the command-line options generated from them.

A config is a ``@dataclass`` whose every field has a type, a default and a one-line docstring written
just below it (as cleanrl does)::

    @dataclass
    class Args:
        lr: float = 0.1
        \"\"\"learning rate η ("pas d'apprentissage")\"\"\"

:func:`add_dataclass_arguments` turns it into ``--lr`` with that docstring as its help, and
:func:`dataclass_from_namespace` builds the config back from the parsed arguments. The resolved
config is what a run saves in ``config.json``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-written layout of descriptions and epilogs (examples, tables)."""


def add_command(
    subparsers: argparse._SubParsersAction[Any],
    name: str,
    *,
    help: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add a sub-command whose ``--help`` keeps its description's and epilog's line breaks.

    The new parser inherits drlab's one-line error handling from its parent parser.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=HelpFormatter
    )
    return parser


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Map each field of dataclass ``cls`` (and its bases) to the docstring written below it."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        if not isinstance(body, ast.ClassDef):
            continue
        statements = body.body
        for stmt, following in itertools.pairwise(statements):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[stmt.target.id] = " ".join(following.value.value.split())
    return docs


def _option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def add_dataclass_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    exclude: Iterable[str] = (),
    converters: dict[str, Callable[[str], Any]] | None = None,
    metavars: dict[str, str] | None = None,
) -> None:
    """Add one ``--option`` per field of dataclass ``cls`` to ``parser``.

    Supported field types: ``int``, ``float``, ``str``, ``bool`` (``--x/--no-x``), ``Literal[...]``
    (choices), ``X | None`` (the option may be omitted) and ``tuple[X, ...]`` (``nargs='+'``).
    Defaults are left to the dataclass (``argparse.SUPPRESS``-free: the default is shown in --help).
    ``converters`` overrides the parsing of named fields (e.g. a type check with a friendly error);
    ``metavars`` names their values in ``--help`` (e.g. ``{"plot": "DIR"}``).
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    skipped = set(exclude)
    for field in dataclasses.fields(cls):
        if field.name in skipped or not field.init:
            continue
        tp, optional = _unwrap_optional(hints[field.name])
        default = field.default if field.default is not dataclasses.MISSING else None
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        help_text = docs.get(field.name, "").replace("%", "%%")  # argparse formats help with %
        if default not in (None, "") and not isinstance(default, bool):
            shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
            help_text += f" (default: {shown})"
        kwargs: dict[str, Any] = {"dest": field.name, "default": default, "help": help_text}
        if converters and field.name in converters:
            kwargs["type"] = converters[field.name]
        elif tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(tp) is Literal:
            choices = get_args(tp)
            kwargs["choices"] = choices
            kwargs["type"] = type(choices[0])
        elif get_origin(tp) is tuple:
            kwargs["nargs"] = "+"
            kwargs["type"] = get_args(tp)[0]
        elif tp in (int, float, str):
            kwargs["type"] = tp
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: unsupported option type {tp!r}")
        if metavars and field.name in metavars:
            kwargs["metavar"] = metavars[field.name]
        elif tp is int or tp is float:
            kwargs["metavar"] = "N" if tp is int else "X"
        if optional and tp is not bool and "metavar" not in kwargs and "choices" not in kwargs:
            kwargs["metavar"] = field.name.upper()
        parser.add_argument(_option_name(field.name), **kwargs)


def dataclass_from_namespace(cls: type[T], namespace: argparse.Namespace, **overrides: Any) -> T:
    """Build ``cls`` from the parsed arguments (fields absent from ``namespace`` keep their default)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in overrides:
            values[field.name] = overrides[field.name]
        elif hasattr(namespace, field.name):
            value = getattr(namespace, field.name)
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a JSON-ready dict (tuples become lists)."""
    return json_ready(dataclasses.asdict(config))


def json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {key: json_ready(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(value) for value in obj]
    return obj
