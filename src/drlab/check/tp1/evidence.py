"""What came back from the sandbox, read without trusting it, and the context every check shares.

The sandbox (:mod:`drlab.check.harvest`) sends *frames* of data, one per step, and *events* for what
went wrong (``{"kind": "timeout", "call": "evaluate", "seconds": 60}``). Nothing here believes them: a
value of the wrong type reads as "not a number", an event that is not one reads as malformed, and a
step that never came back fails with :class:`Failed` ("no answer").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from drlab.check.messages import Text, text
from drlab.check.report import printable
from drlab.check.tp1.contract import WHERE
from drlab.check.tp1.request import Request

_T = TypeVar("_T")
#: the calls of the student's code that the sandbox names in its events (a message "call.<name>" each)
CALLS = ("net_init", "net_forward", "train_one_epoch", "evaluate", "loss_fn")
#: exceptions whose cause the grader knows: the call that raised, words of the exception or of the
#: student's line where it was raised, and the message that explains them
KNOWN_ERRORS = (
    ("train_one_epoch", "does not require grad", "explain.no_graph"),
    ("evaluate", "argmax(dim=0)", "explain.argmax_dim0"),
    ("evaluate", "argmax(0)", "explain.argmax_dim0"),
    ("evaluate", "could not infer output dtype", "explain.bool_mean"),
)


class Failed(Exception):
    """A check failed: the message shown to the student (a key of the catalogue) and its root cause.

    ``cause`` names the root (``"train"``, ``"evaluate"``, ``"loss"``, ``"inputs"``…): a later failure
    with the same root is reported as "caused by the failure above".
    """

    def __init__(self, key: str | Text, *, cause: str | None = None, **fields: Any) -> None:
        self.message = key if isinstance(key, Text) else text(key, **fields)
        super().__init__(self.message.key)
        self.cause = cause


@dataclass
class Harvest:
    """The frames of one notebook, decoded: JSON data and tensors, per step (absent when not sent)."""

    frames: dict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]] = field(default_factory=dict)
    killed: bool = False
    """the sandbox was still running at its deadline"""
    exit_code: int | None = None
    cell_labels: dict[int, tuple[int, str]] = field(default_factory=dict)
    """by cell index: the cell's number among the code cells (as the student counts them) and its first line"""
    cell_sources: dict[int, str] = field(default_factory=dict)
    """by cell index: the code cells' sources, as the notebook holds them (read by the grader, not the sandbox)"""

    @classmethod
    def decode(cls, frames: Mapping[str, Any], **kwargs: Any) -> Harvest:
        """Decode raw frames (:class:`~drlab.check.sandbox.Frame`); a frame whose tensors do not load is dropped."""
        from safetensors.torch import load

        decoded = {}
        for name, frame in frames.items():
            try:
                tensors = load(frame.tensors) if frame.tensors else {}
            except Exception:  # malformed safetensors from the sandbox: as if nothing came
                continue
            decoded[name] = (frame.data, tensors)
        return cls(decoded, **kwargs)

    def get(self, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The frame ``name``, or :class:`Failed` when the sandbox never sent it."""
        if name not in self.frames:
            raise Failed("no_answer", cause="no_answer")
        return self.frames[name]


# --------------------------------------------------------------------------------------------------
# Values, read without trusting them


def quoted(value: Any, limit: int = 600) -> str:
    """Something the notebook sent (a type's name, its own exception message), safe to show verbatim."""
    return printable(str(value if value is not None else ""))[:limit]


@dataclass(frozen=True)
class Returned:
    """A value a student's function returned, as the sandbox described it (checked)."""

    kind: str
    """"real", "tensor", "bool" or "other\""""
    type: str
    value: float | None
    """the number, when it is one"""


def returned(value: Any) -> Returned:
    """The sandbox's ``{"kind", "type", "value"}`` of a returned value, or "other" when it is not one."""
    if not isinstance(value, dict):
        return Returned("other", "?", None)
    number = value.get("value")
    return Returned(
        str(value["kind"]) if value.get("kind") in ("real", "tensor", "bool", "other") else "other",
        quoted(value.get("type", "?"), 60),
        float(number) if isinstance(number, (int, float)) and not isinstance(number, bool) else None,
    )


def calls(value: Any) -> list[tuple[bool, bool, int]]:
    """A spy's record of forward calls: (training mode?, autograd on?, images given, -1 if unknown) each."""
    if not isinstance(value, list):
        return []
    return [
        (item[0], item[1], item[2] if len(item) == 3 and is_count(item[2]) else -1)
        for item in value[:10_000]
        if isinstance(item, list) and len(item) in (2, 3) and all(isinstance(v, bool) for v in item[:2])
    ]


def counts(value: Any) -> list[int]:
    """A list of counts the sandbox sent (images per forward call…); anything else reads as empty."""
    return [v for v in value[:10_000] if is_count(v)] if isinstance(value, list) else []


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parameters(tensors: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """The parameters the sandbox sent (``param.0``, ``param.1``…), in order."""
    keys = sorted(
        (key for key in tensors if key.startswith("param.")),
        key=lambda k: int(k[6:]) if k[6:].isdigit() else -1,
    )
    return [tensors[key] for key in keys]


def same_shapes(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> bool:
    return len(first) == len(second) and all(
        a.shape == b.shape and a.is_floating_point() == b.is_floating_point()
        for a, b in zip(first, second, strict=False)
    )


def same(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> bool:
    return same_shapes(first, second) and all(
        torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-6)
        for a, b in zip(first, second, strict=True)
    )


def max_difference(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> float:
    return max(float((a.double() - b.double()).abs().max()) for a, b in zip(first, second, strict=True))


# --------------------------------------------------------------------------------------------------
# The sandbox's events


def _exception(event: Mapping[str, Any]) -> Text:
    """``Type: message (in function, at `line`)``: the student's own words, quoted, never translated."""
    function, line = event.get("function"), event.get("line")
    where: Text | str = ""
    if isinstance(function, str) and isinstance(line, str):
        where = text("exception.where", function=quoted(function, 80), line=quoted(line, 100))
    kind, message = quoted(event.get("type"), 80), quoted(event.get("message"), 300)
    if message:
        return text("exception", type=kind, message=message, where=where)
    return text("exception.bare", type=kind, where=where)


def sandbox_event(event: Any) -> Text:
    """What the sandbox says went wrong, as a message: a call that timed out or raised, a step it could
    not run; anything else reads as malformed."""
    if not isinstance(event, dict):
        return text("sandbox.malformed")
    kind, call, seconds = event.get("kind"), event.get("call"), event.get("seconds")
    if kind == "timeout" and isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        if call == "model":
            return text("sandbox.model_timeout", seconds=seconds)
        if call in CALLS:
            return text("sandbox.timeout", call=text(f"call.{call}"), seconds=seconds)
    if kind == "exception":
        if call == "model":
            return text("sandbox.model_failed", exception=_exception(event))
        if call in CALLS:
            raised = text("sandbox.raised", call=text(f"call.{call}"), exception=_exception(event))
            words = exception_words(event)
            for known_call, known, explanation in KNOWN_ERRORS:
                if call == known_call and known in words:
                    return text("sandbox.explained", event=raised, explanation=text(explanation))
            return raised
    if kind == "crash":
        return text("sandbox.crash", exception=_exception(event))
    return text("sandbox.malformed")


def exception_words(event: Any) -> str:
    """The words of an exception the student's code raised (type, message, code line): what a hint
    looks for ("argument", "mse"…); empty for any other event."""
    if not isinstance(event, dict) or event.get("kind") != "exception":
        return ""
    return " ".join(quoted(event.get(key)) for key in ("type", "message", "function", "line"))


# --------------------------------------------------------------------------------------------------
# The context the checks share


class Context:
    """What the checks share: the request, the harvest, and outcomes computed once, when first needed.

    An outcome is a function of the context (:meth:`outcome`); one that cannot be computed raises
    :class:`Failed` with the reason every check that needs it will show. ``failures`` maps each root
    cause reported so far to the check that reported it first.
    """

    def __init__(self, request: Request, harvest: Harvest, *, notebook_timeout: float = 0.0) -> None:
        self.request = request
        self.harvest = harvest
        self.notebook_timeout = notebook_timeout
        self.failures: dict[str, str] = {}
        self._outcomes: dict[Callable[[Context], Any], Any] = {}

    def first_cause(self, *causes: str) -> str | None:
        """The first of ``causes`` already reported above (in report order), if any."""
        reported = [cause for cause in self.failures if cause in causes]
        return reported[0] if reported else None

    def outcome(self, compute: Callable[[Context], _T]) -> _T:
        """``compute(self)``, computed once: its result, or the :class:`Failed` it raised, raised again."""
        if compute not in self._outcomes:
            try:
                self._outcomes[compute] = compute(self)
            except Failed as failure:
                self._outcomes[compute] = failure
        result = self._outcomes[compute]
        if isinstance(result, Failed):
            raise result
        return result

    def frame(self, name: str, *, cause: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The frame of step ``name``; :class:`Failed` when a name it needs is not defined or not a
        function, or when the student's code failed (root ``cause``)."""
        data, tensors = self.harvest.get(name)
        missing = data.get("missing")
        if isinstance(missing, str) and missing in WHERE:
            raise missing_name(missing)
        if isinstance(data.get("not_callable"), str):
            name_ = quoted(data["not_callable"])
            raise Failed("not_callable", cause=f"missing:{name_}", name=name_, type=quoted(data.get("type")))
        if data.get("error"):
            raise Failed(sandbox_event(data["error"]), cause=cause)
        return data, tensors


def missing_name(name: str, *, cause: str | None = None) -> Failed:
    """The failure "`name` is not defined: write it in <its cell>"; its root is the missing name."""
    return Failed("missing", cause=cause or f"missing:{name}", name=name, where=text(WHERE[name]))
