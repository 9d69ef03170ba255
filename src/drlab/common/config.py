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


def add_run_options(parser: argparse.ArgumentParser, *, out: str, resume: str | None) -> None:
    """The options of every command that trains into a run folder, beside its config's: ``--out``,
    ``--force``, ``--resume`` (unless ``resume`` is ``None``) and ``--quiet``; ``out`` and ``resume`` are
    their help (where the folder goes by default, what a resume continues)."""
    parser.add_argument("--out", metavar="RUN", default=None, help=out)
    parser.add_argument("--force", action="store_true", help="replace a run already in --out")
    if resume is not None:
        parser.add_argument("--resume", action="store_true", help=resume)
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no per-epoch lines (errors and warnings still print)",
    )


def add_old_spelling(
    parser: argparse.ArgumentParser, option: str, dest: str, type: Callable[[str], Any]
) -> None:
    """Accept ``option``, an earlier drlab's name of the field ``dest``, without showing it in ``--help``
    (old scripts keep working; the help teaches today's name)."""
    parser.add_argument(option, dest=dest, type=type, help=argparse.SUPPRESS)


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


# --- Validation: one vocabulary for every config's check() -----------------------------------------------
#: a seed is an unsigned 32-bit integer for NumPy (np.random.seed), torch and gymnasium alike
SEED_RANGE = 2**32


def check_seed(seed: Any, option: str = "--seed") -> None:
    """Raise :class:`UsageError` unless ``seed`` is an integer in [0, 2**32) (what NumPy accepts)."""
    from drlab.common.errors import UsageError

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_RANGE:
        raise UsageError(f"{option} must be an integer in [0, 2**32), got {seed!r}")


def check_number(
    option: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise :class:`UsageError` unless ``value`` is a finite number in the interval given.

    ``argparse``'s ``type=float`` accepts ``nan`` and ``inf``; every float option of drlab goes through
    here so that neither reaches a computation. ``low``/``high`` ``None`` leave that side open.
    """
    import math

    from drlab.common.errors import UsageError

    if low is not None and high is not None:
        bounds = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        bounds = f"{'>' if low_open else '≥'} {low:g}"
    elif high is not None:
        bounds = f"{'<' if high_open else '≤'} {high:g}"
    else:
        bounds = "a number"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise UsageError(f"{option} must be {bounds} and finite, got {value!r}")


def check_int(option: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    """Raise :class:`UsageError` unless ``value`` is an integer in [low, high]."""
    from drlab.common.errors import UsageError

    ok = isinstance(value, int) and not isinstance(value, bool)
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        bounds = f"≥ {low}" if high is None else f"in [{low}, {high}]" if low is not None else f"≤ {high}"
        raise UsageError(f"{option} must be {bounds}, got {value!r}")


def option_name(field_name: str) -> str:
    """The command-line spelling of a config field: ``batch_size`` → ``--batch-size``."""
    return _option_name(field_name)


# --- One configuration path: read a saved config, merge a resume ---------------------------------------
def _fits(value: Any, tp: Any) -> tuple[bool, Any]:
    """Does the JSON ``value`` fit the field type ``tp``? Returns (ok, value converted for the dataclass)."""
    inner, optional = _unwrap_optional(tp)
    if value is None:
        return optional, None
    if inner is bool:
        return isinstance(value, bool), value
    if inner is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if inner is float:  # JSON writes 1.0 as 1.0, but a hand edit may write 1
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if inner is str:
        return isinstance(value, str), value
    if get_origin(inner) is Literal:
        return value in get_args(inner), value
    if get_origin(inner) is tuple:
        (element,) = get_args(inner)[:1]
        if not isinstance(value, list):
            return False, value
        converted = [_fits(item, element) for item in value]
        return all(ok for ok, _ in converted), tuple(item for _, item in converted)
    return False, value


def from_json(cls: type[T], data: Any, source: str) -> T:
    """Build config ``cls`` from the JSON object ``data`` read from ``source`` (a file name, for messages).

    Every field must be present with a value of its declared type; unknown keys are ignored (a newer
    drlab may add fields). A mismatch is one :class:`UsageError` naming the file and the field — never
    a ``TypeError`` deep inside a run. The result is then ``check()``-ed like a config from the command
    line, so a hand-edited ``"lr": -1`` is refused the same way ``--lr -1`` is.
    """
    from drlab.common.errors import UsageError

    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a JSON object of {cls.__name__} settings")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init:
            continue
        if field.name not in data:
            raise UsageError(
                f"{source}: the saved config has no {field.name!r} (damaged, or not a {cls.__name__})"
            )
        ok, value = _fits(data[field.name], hints[field.name])
        if not ok:
            raise UsageError(
                f"{source}: {field.name!r} holds {data[field.name]!r}, not a valid {option_name(field.name)}"
            )
        values[field.name] = value
    config = cls(**values)
    check = getattr(config, "check", None)
    if check is not None:
        try:
            check()
        except UsageError as exc:
            raise UsageError(f"{source}: {exc}") from exc
    return config


def upgrade_saved(
    values: dict[str, Any],
    where: str,
    *,
    renamed: dict[str, str],
    retired: dict[str, Any] | None = None,
    resuming: bool = False,
) -> dict[str, Any]:
    """``values`` (a saved config, a checkpoint's settings) under this drlab's names, for :func:`from_json`.

    A ``renamed`` option takes its new name; a ``retired`` one (mapped to the value with which it did
    nothing) is dropped, or, when ``resuming`` a run that used it, refused in one line naming it: the run
    still reads (its weights are what they are) but this drlab could not continue it the way it started.
    """
    from drlab.common.errors import UsageError

    upgraded: dict[str, Any] = {}
    for name, value in values.items():
        if retired is not None and name in retired:
            if resuming and value != retired[name]:
                raise UsageError(
                    f"{where}: this run was trained with {option_name(name)} {value}, an option this drlab "
                    "no longer has, so --resume cannot continue it the same way (drlab evaluate and drlab "
                    "predict still read it); start a new run"
                )
            continue
        upgraded[renamed.get(name, name)] = value
    return upgraded


def merge_on_resume(saved: T, typed: dict[str, Any], allowed: Iterable[str], *, where: str) -> T:
    """The config of a resumed run: ``saved``, with the options typed on this command line on top.

    ``typed`` holds only what the user *typed* (a sentinel default tells typed from untyped, so that
    ``--total-steps 50000`` counts even when 50000 is the default). A typed value equal to the saved one
    is fine; a different value is taken if its field is in ``allowed`` (``--epochs``, ``--device``…),
    and refused otherwise: a run resumed with another learning rate would not continue the saved one.
    ``where`` names the run folder in the message.
    """
    from drlab.common.errors import UsageError

    allowed_names = set(allowed)
    changes: dict[str, Any] = {}
    for name, value in typed.items():
        if not hasattr(saved, name):
            continue
        had = getattr(saved, name)
        value = tuple(value) if isinstance(value, list) else value
        if value == had:
            continue
        if name not in allowed_names:
            may = ", ".join(sorted(option_name(n) for n in allowed_names))
            raise UsageError(
                f"--resume continues the run in {where} with its saved settings: it was trained with "
                f"{option_name(name)} {_shown(had)}, not {_shown(value)} (may change on resume: {may}; "
                "or start a new run with --force / another --out)"
            )
        changes[name] = value
    return dataclasses.replace(saved, **changes)  # type: ignore[type-var]


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


#: the default of every option generated from a dataclass, until the user types it: tells "typed 1000"
#: from "left at its default of 1000" (what ``--resume`` needs to know)
NOT_GIVEN: Any = type("NotGiven", (), {"__repr__": lambda self: "NOT_GIVEN"})()


def mark_untyped(parser: argparse.ArgumentParser, cls: type) -> None:
    """Make every option of ``cls`` default to :data:`NOT_GIVEN` (``--help`` still shows the real default)."""
    parser.set_defaults(**{field.name: NOT_GIVEN for field in dataclasses.fields(cls)})


def typed_options(namespace: argparse.Namespace) -> dict[str, Any]:
    """The options the user typed (those not left at :data:`NOT_GIVEN`), by field name."""
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(namespace).items()
        if value is not NOT_GIVEN
    }
