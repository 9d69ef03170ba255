"""The checks of TP1, in report order, and :func:`decide`: every check on one notebook's harvest, each
failure traced to its root.

A check returns its ✓ message, or raises :class:`~drlab.check.tp1.evidence.Failed` with its hint and
its root *cause* (``"train"``, ``"evaluate"``, ``"missing:loss_fn"``…). The first check that fails
with a cause is that cause's root; a later failure with the same cause is reported as "caused by the
failure above", naming the root's title instead of repeating its hint — or, when the root's message
already holds this hint word for word (a cell's crash that names the mistake of a later check), as
"the mistake named above". The roots that span TODOs are chosen where the failure is raised: a
trained model that misses the bar names a wrong training above it
(:data:`drlab.check.tp1.model.TRAINING_ROOTS`), a cell's crash names the function that raises the same
error (:func:`drlab.check.tp1.runs.crash_cause`), a name not defined or a step that never answered
after a notebook that did not run is that notebook's consequence (:data:`RUNS_CONSEQUENCES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drlab.check.messages import Lang, Text, say, text
from drlab.check.report import CheckResult
from drlab.check.tp1 import evaluate, loss, model, net, runs, train
from drlab.check.tp1.contract import CONTRACT, PARAMETER_RANGE
from drlab.check.tp1.evidence import Context, Failed, Harvest
from drlab.check.tp1.request import Request


@dataclass(frozen=True)
class Check:
    """One line of the report: its id (a column of the score sheet), its title, and how it is decided."""

    id: str
    title: Text
    run: Callable[[Context], Text | None]
    """the ✓ message (None: nothing to add), or raises Failed"""


CHECKS: tuple[Check, ...] = (
    Check("runs", text("title.runs"), runs.check_runs),
    # TODO 1: Net
    Check("net_output", text("title.net_output"), net.check_output),
    Check("net_logits", text("title.net_logits"), net.check_logits),
    Check(
        "net_size", text("title.net_size", low=PARAMETER_RANGE[0], high=PARAMETER_RANGE[1]), net.check_size
    ),
    # TODO 2: train_one_epoch
    Check("train_lowers_loss", text("title.train_lowers_loss"), train.check_lowers_loss),
    Check("train_zero_grad", text("title.train_zero_grad"), train.check_zero_grad),
    Check("train_returns_loss", text("title.train_returns_loss"), train.check_returns_loss),
    Check("train_mode", text("title.train_mode"), train.check_mode),
    # TODO 3: evaluate
    Check("eval_accuracy", text("title.eval_accuracy"), evaluate.check_accuracy),
    Check("eval_mode", text("title.eval_mode"), evaluate.check_mode),
    Check("eval_no_grad", text("title.eval_no_grad"), evaluate.check_no_grad),
    # TODO 4: loss_fn
    Check("loss_fn", text("title.loss_fn"), loss.check_loss_fn),
    # the training cell: model, test_accuracy
    Check("model_accuracy", text("title.model_accuracy"), model.check_accuracy),
    Check("reported_accuracy", text("title.reported_accuracy"), model.check_reported),
)
CHECK_IDS = tuple(check.id for check in CHECKS)


def titles(lang: str) -> dict[str, str]:
    """The checks' titles in ``lang``, by id, in report order."""
    return {check.id: check.title.render(lang) for check in CHECKS}


#: the consequences of cells that failed: a name not defined, a step that never answered
RUNS_CONSEQUENCES = ("missing:", "no_answer")


def decide(
    request: Request, harvest: Harvest, *, notebook_timeout: float = 0.0, lang: Lang = "en"
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Every check, decided here from the harvest: one result per check, always all of them, in order,
    in ``lang``; and facts for the report (dataset, measured test accuracy, threshold, names not defined).
    """
    ctx = Context(request, harvest, notebook_timeout=notebook_timeout)
    roots = {check.id: check.title for check in CHECKS}
    root_hints: dict[str, str] = {}
    results = []
    for check in CHECKS:
        title = check.title.render(lang)
        try:
            passed = check.run(ctx)
            results.append(CheckResult(check.id, title, True, passed.render(lang) if passed else ""))
        except Failed as failure:
            cause = failure.cause
            if cause is not None and cause.startswith(RUNS_CONSEQUENCES) and "runs" in ctx.failures:
                cause = "runs"
            hint = failure.message.render(lang)
            root = ctx.failures.get(cause) if cause is not None else None
            if root is not None:
                # the same root as a ✗ above: say so, and do not repeat its hint word for word
                caused_by = text("decide.caused_by", title=roots[root])
                if hint == root_hints[root]:
                    shown = caused_by.render(lang)
                elif hint in root_hints[root]:
                    shown = say(lang, "decide.named_above", title=roots[root])
                else:
                    shown = say(lang, "decide.caused_by_hint", caused_by=caused_by, hint=hint)
                results.append(CheckResult(check.id, title, False, shown, caused_by=root))
            else:
                if cause is not None:
                    ctx.failures[cause] = check.id
                if check.id == "runs":  # whatever its root, what did not run is its consequence
                    ctx.failures.setdefault("runs", check.id)
                root_hints[check.id] = hint
                results.append(CheckResult(check.id, title, False, hint))
        except Exception as exc:  # malformed data can break a check in ways we did not foresee
            reason = f"{type(exc).__name__}: {exc}"[:260]
            results.append(CheckResult(check.id, title, False, say(lang, "decide.could_not", reason=reason)))
    facts: dict[str, Any] = {"budget": request.budget, "dataset": request.dataset, "lang": lang}
    if request.fashion_mnist_missing:
        facts["fashion_mnist_missing"] = request.fashion_mnist_missing
    cells = harvest.frames.get("cells")
    if cells is not None and isinstance(cells[0].get("defined"), list):
        facts["missing"] = [name for name in CONTRACT if name not in cells[0]["defined"]]
    todos = runs.todos_left(ctx)
    if todos:
        facts["todos"] = todos
    try:
        measured = ctx.outcome(model.model_measurement)
    except Failed:
        pass
    else:
        facts.update(test_accuracy=measured.accuracy, threshold=measured.threshold)
    return results, facts
