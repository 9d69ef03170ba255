"""The sandbox's side of ``drlab check tp1``: run the notebook, call its functions, send back *data*.

This file runs inside the sandbox (:mod:`drlab.check.sandbox`), as a script, in a process where the
student's code runs too — so nothing here decides anything. It

1. runs the notebook's code cells one after the other in an IPython shell (magics work; a failing
   cell does not stop the next; the whole notebook has one time limit);
2. calls the student's ``Net``, ``train_one_epoch``, ``evaluate`` and ``model`` on the inputs the
   grader chose (probe networks and images, read from the request folder);
3. writes what came out — tensors as safetensors, numbers and types as JSON — to the data channel, one
   *frame* per step, as soon as the step ends (a kill mid-way keeps the steps done).

The grader (:mod:`drlab.check.tp1`, in its own process) compares those data with its own reference and
its own labels, which never enter the sandbox. A student who rewrites this file's behaviour from a
cell can only change the data sent back; the verdict needs the data a correct computation gives. The
spies here (:class:`ForwardSpy`, :class:`TrainingSpy`) record what happened for the hints only: the
grader never passes a check on their word.

Only the standard library, torch, safetensors and (when installed) IPython are imported here: the
sandbox cannot import ``drlab.check``. The grader imports :class:`ProbeNet` from this module, so both
sides build the very same probe networks.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_tensors
from torch import nn

#: taken before any student code runs: a cell that replaces os.write does not reach the channel's
_os_write = os.write
#: first bytes of every frame on the data channel: ``FRAME_TAG name json_bytes tensor_bytes\n``
FRAME_TAG = "DRLAB-FRAME"
NUM_CLASSES = 10
#: the probes the grader builds, by name: the keyword arguments of ProbeNet
PROBES: dict[str, dict[str, Any]] = {
    "lowers": {},
    "zero_grad": {},
    "train_mode": {"batch_norm": True},
    "evaluate": {},
    "eval_mode": {"marker": "training"},
    "eval_no_grad": {"marker": "autograd"},
}
#: the names a TP1 notebook defines (for the report's "does not define …" line)
CONTRACT = ("Net", "train_one_epoch", "evaluate", "loss_fn", "model", "test_accuracy")
#: how the grader has a fresh Net() trained by the student's train_one_epoch on its relabelled images
#: (:func:`harvest_retrain`; the grader, :mod:`drlab.check.integrity`, imports these)
RETRAIN_EPOCHS = 2
RETRAIN_BATCH = 64
RETRAIN_LR = 1e-3


class ProbeNet(nn.Module):
    """The grader's own small CNN, trained and evaluated with the student's functions.

    A ``marker`` makes one mistake of ``evaluate`` show, exactly, in the one number it returns: with
    ``"training"`` the scores move by one class (each image's prediction becomes the next class) while
    the model is in training mode, with ``"autograd"`` while autograd records the forward pass. A real
    network changes in training mode too (dropout, batch norm), but by an amount nobody can predict;
    a marked probe changes by an amount the grader computes.
    """

    def __init__(self, dropout: float = 0.0, batch_norm: bool = False, marker: str = "") -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=4, stride=4)  # 28×28 → 7×7
        self.norm: nn.Module = nn.BatchNorm2d(4) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(4 * 7 * 7, NUM_CLASSES)
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.norm(self.conv(x))).flatten(1)
        logits = self.linear(self.dropout(features))
        if (self.marker == "training" and self.training) or (
            self.marker == "autograd" and torch.is_grad_enabled()
        ):
            logits = logits.roll(1, dims=1)
        return logits


class ForwardSpy:
    """Records, at each forward call of a model, its mode (any sub-module training?) and autograd's state."""

    def __init__(self, model: nn.Module) -> None:
        self.calls: list[tuple[bool, bool]] = []
        self._handle = model.register_forward_pre_hook(self._record)

    def _record(self, module: nn.Module, inputs: Any) -> None:
        training = any(m.training for m in module.modules())
        self.calls.append((training, torch.is_grad_enabled()))

    def remove(self) -> None:
        self._handle.remove()


class TrainingSpy:
    """Evidence of the four steps inside the student's ``train_one_epoch`` (data for the grader's hints).

    It counts the model's forward calls (❶), the gradients that reached its parameters during
    ``loss.backward()`` (❸) and, at each ``optimizer.step()`` (❹), whether the parameters' ``.grad``
    held anything: ``"none"`` (all empty), ``"zero"`` (all zero) or ``"some"``.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.forward = ForwardSpy(model)
        self.gradients_in = 0
        self.steps: list[str] = []
        self._handles = [
            parameter.register_hook(self._count)
            for parameter in model.parameters()
            if parameter.requires_grad
        ]
        self._handles.append(optimizer.register_step_pre_hook(self._before_step))

    def _count(self, grad: torch.Tensor) -> None:
        self.gradients_in += 1

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        if all(g is None for g in grads):
            self.steps.append("none")
        elif all(g is None or not bool(g.any()) for g in grads):
            self.steps.append("zero")
        else:
            self.steps.append("some")

    def data(self) -> dict[str, Any]:
        return {
            "forward_calls": len(self.forward.calls),
            "gradients_in": self.gradients_in,
            "steps": self.steps[:1000],
        }

    def remove(self) -> None:
        self.forward.remove()
        for handle in self._handles:
            handle.remove()


def probe_state(tensors: Mapping[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The initial state of probe ``name``, from the request's tensors ``probe.<name>.<parameter>``."""
    prefix = f"probe.{name}."
    return {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}


def make_probe(tensors: Mapping[str, torch.Tensor], name: str) -> ProbeNet:
    """Probe ``name`` with the initial weights the grader drew."""
    probe = ProbeNet(**PROBES[name])
    probe.load_state_dict(probe_state(tensors, name))
    return probe


def trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters of ``model``, detached copies on the CPU (what goes into safetensors)."""
    return {
        f"param.{index}": parameter.detach().to("cpu", copy=True).contiguous()
        for index, parameter in enumerate(model.parameters())
        if parameter.requires_grad
    }


# --------------------------------------------------------------------------------------------------
# Calling the student's code: a time limit, one-line errors


class TimeLimit(BaseException):
    """Raised in the student's code when its time is up (a BaseException: ``except Exception`` won't hide it)."""


class StudentError(Exception):
    """The student's code raised or ran too long; the message says so in one line."""


#: how a time limit of ``seconds`` is counted (set by :func:`main` from the grader's limits.json): the
#: CPU time of this process, up to ``seconds`` × the CPUs the sandbox is given — the time it computes,
#: which a busy machine or a classmate's notebook does not eat. Code that waits instead of computing
#: meets the wall clock: at ``seconds`` if it used less than ``idle_share`` of a CPU lately, and at
#: ``wall_factor`` × ``seconds`` whatever it did
CLOCK = {"cpus": 1.0, "wall_factor": 3.0, "idle_share": 0.02}
#: how often, past ``seconds`` on the wall clock, a limit looks again at whether the code still computes
IDLE_WINDOW = 30.0


class Limit:
    """A time limit on this process (:data:`CLOCK`): ``on_timeout(how)`` is called, in the main thread,
    when it is reached, and raises; ``how`` is ``"cpu"`` (it computed for its time), ``"idle"`` (its
    time passed on the clock while it waited) or ``"clock"`` (it kept computing, slowly: ``wall_factor``
    times its time passed on the clock). POSIX only (else no limit)."""

    def __init__(self, seconds: float, on_timeout: Callable[[str], None]) -> None:
        self.seconds, self.on_timeout = seconds, on_timeout
        self.armed = seconds > 0 and hasattr(signal, "setitimer")
        self.armed = self.armed and threading.current_thread() is threading.main_thread()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Limit:
        if self.armed:
            for signum in (signal.SIGPROF, signal.SIGALRM):
                self._previous[signum] = signal.signal(signum, self._fired)
            self._started = self._mark = time.monotonic()
            self._cpu_mark = time.process_time()
            signal.setitimer(signal.ITIMER_PROF, self.seconds * CLOCK["cpus"])
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)

    def _fired(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGALRM:
            now, cpu = time.monotonic(), time.process_time()
            computing = cpu - self._cpu_mark >= CLOCK["idle_share"] * (now - self._mark)
            left = self.seconds * CLOCK["wall_factor"] - (now - self._started)
            if computing and left > 0:  # slowed down by a busy machine, not waiting: look again later
                self._mark, self._cpu_mark = now, cpu
                signal.setitimer(signal.ITIMER_REAL, min(IDLE_WINDOW, left))
                return
            self.on_timeout("clock" if computing else "idle")
        self.on_timeout("cpu")


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`TimeLimit` when its :class:`Limit` of ``seconds`` is reached.

    A notebook can switch the alarm off; the sandbox's own limits still end it.
    """

    def stop(how: str) -> None:
        raise TimeLimit(f"no answer within {seconds:g} s")

    with Limit(seconds, stop):
        yield


_LIBRARY_PATHS = tuple(
    path for path in {sysconfig.get_paths().get("stdlib", ""), str(Path(__file__).parent)} if path
)


def describe_exception(exc: BaseException) -> str:
    """``Type: first line of the message``, plus the student's line where it happened when we can find it."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if len(first) > 240:
        first = first[:237] + "…"
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if "site-packages" in name or name.startswith(_LIBRARY_PATHS) or name.startswith("<frozen"):
            continue
        if "/drlab/" in name:  # drlab's own library code, called by the student's
            continue
        line = (frame.line or linecache.getline(name, frame.lineno or 0)).strip()
        if line and not (first and first in line):  # `raise X("message")` would only repeat the message
            where = f" (in {frame.name}, at `{line[:100]}`)"
        break
    return f"{type(exc).__name__}: {first}{where}" if first else f"{type(exc).__name__}{where}"


def call_student(label: str, function: Callable[..., Any], *args: Any, seconds: float) -> Any:
    """Call the student's ``function(*args)`` with a time limit; any failure is a one-line StudentError."""
    try:
        with time_limit(seconds):
            return function(*args)
    except TimeLimit:
        raise StudentError(f"{label} did not return within {seconds:g} s (an endless loop?)") from None
    except Exception as exc:
        raise StudentError(f"{label} raised {describe_exception(exc)}") from None


def describe_value(value: Any) -> dict[str, Any]:
    """What a student's function returned, as JSON: its type, and its value when it is one number."""
    kind, number = "other", None
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, torch.Tensor):
        kind = "tensor"
        if value.numel() == 1 and (value.is_floating_point() or not value.is_complex()):
            number = float(value.detach().cpu().reshape(()))
    elif isinstance(value, (int, float)) or (hasattr(value, "__float__") and hasattr(value, "real")):
        kind = "real"
        with contextlib.suppress(Exception):
            number = float(value)
    return {"type": type(value).__name__[:60], "kind": kind, "value": number}


# --------------------------------------------------------------------------------------------------
# The data channel


class Channel:
    """Frames to the grader: ``FRAME_TAG name <json length> <tensor length>\\n``, the JSON, the safetensors."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(
        self, name: str, data: Mapping[str, Any], tensors: Mapping[str, torch.Tensor] | None = None
    ) -> None:
        meta = json.dumps(dict(data)).encode()
        blob = save_tensors(dict(tensors)) if tensors else b""
        message = f"{FRAME_TAG} {name} {len(meta)} {len(blob)}\n".encode() + meta + blob
        view = memoryview(message)
        while view:
            written = _os_write(self.fd, view)
            view = view[written:]


# --------------------------------------------------------------------------------------------------
# The notebook's cells


class NotebookTimeout(BaseException):
    """The notebook's time is up."""


def make_shell() -> Any:
    """An IPython shell without a terminal or history, or ``None`` when IPython is not installed."""
    try:
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
    except ImportError:
        return None
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    return InteractiveShell.instance(config=config)


def _cell_line(exc: BaseException, count: int | None) -> int | None:
    """The line of the cell where ``exc`` was raised (the outermost frame that belongs to the cell)."""
    marker = f"<ipython-input-{count}-" if count is not None else "<cell "
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(marker):
            return tb.tb_lineno
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(marker):
        return exc.lineno
    return None


def run_cells(cells: list[dict[str, Any]], seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the code cells in order within ``seconds``; returns the namespace and a report of the run."""
    shell = make_shell()
    namespace: dict[str, Any] = shell.user_ns if shell is not None else {"__name__": "__main__"}
    errors: list[dict[str, Any]] = []
    timed_out_at: int | None = None
    started = time.monotonic()

    timed_out_by = ""

    def stop(how: str) -> None:
        nonlocal timed_out_by
        timed_out_by = how
        raise NotebookTimeout

    limit = Limit(seconds, stop).__enter__()
    try:
        for cell in cells:
            index, source = int(cell["index"]), str(cell["source"])
            exc: BaseException | None = None
            count: int | None = None
            try:
                if shell is not None:
                    count = shell.execution_count
                    result = shell.run_cell(source, store_history=True)
                    exc = result.error_before_exec or result.error_in_exec
                else:
                    exec(compile(source, f"<cell {index}>", "exec"), namespace)
            except NotebookTimeout as timeout:
                exc = timeout
            except BaseException as raised:
                exc = raised
            if isinstance(exc, NotebookTimeout):
                timed_out_at = index
                break
            if exc is not None:
                errors.append(
                    {
                        "index": index,
                        "ename": type(exc).__name__[:80],
                        "evalue": str(exc).strip()[:300],
                        "line": _cell_line(exc, count),
                    }
                )
            _close_figures()
    except NotebookTimeout:
        timed_out_at = timed_out_at if timed_out_at is not None else -1
    finally:
        limit.__exit__()
    report = {
        "errors": errors,
        "timed_out_at": timed_out_at,
        "timed_out_by": timed_out_by,
        "seconds": time.monotonic() - started,
        "defined": [name for name in CONTRACT if name in namespace],
    }
    return namespace, report


def _close_figures() -> None:
    """Free the figures a cell drew (nobody will look at them here)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        with contextlib.suppress(Exception):
            pyplot.close("all")


# --------------------------------------------------------------------------------------------------
# The steps: each calls the student's code on the grader's inputs and sends what came out


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Any:
    """The mini-batches a TP1 function receives: drlab's ``Batches`` (as in the notebook), else a list."""
    try:
        from drlab.data.batches import Batches

        return Batches(x, y, batch_size=batch_size, shuffle=False)
    except ImportError:
        return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(y), batch_size)]


def harvest_model(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``model``: is it a Net, its weights, its logits on the public test images and on the grader's own."""
    data: dict[str, Any] = {
        "test_accuracy": describe_value(ns["test_accuracy"]) if "test_accuracy" in ns else None,
        "inputs": input_statistics(ns),
    }
    if "model" not in ns:
        return {**data, "status": "missing"}, {}
    model = ns["model"]
    if not isinstance(model, nn.Module):
        return {**data, "status": "not-module", "type": type(model).__name__[:60]}, {}
    net_class = ns.get("Net")
    data["is_net"] = isinstance(net_class, type) and isinstance(model, net_class)
    data["type"] = type(model).__name__[:60]
    out = trainable(model)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    try:
        with time_limit(seconds):
            model.eval()  # measured as the lecture's evaluate does: eval mode, no autograd
            with torch.no_grad():
                for name in ("test", "private"):
                    images = tensors[name]
                    out[f"logits.{name}"] = torch.cat(
                        [
                            model(images[start : start + 500].to(device)).detach().float().cpu()
                            for start in range(0, len(images), 500)
                        ]
                    )
    except TimeLimit:
        return {
            **data,
            "status": "error",
            "error": f"measuring `model` on the test set took more than {seconds:g} s",
        }, out
    except Exception as exc:
        return {
            **data,
            "status": "error",
            "error": f"`model` failed on the test images: {describe_exception(exc)}",
        }, out
    return {**data, "status": "ok"}, out


def input_statistics(ns: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Mean, std, min and max of the images the notebook trained and measured on (the first 2,000)."""
    found: dict[str, dict[str, float]] = {}
    for name in ("x_test", "x_val", "train_batches"):
        try:
            value = ns.get(name)
            if name == "train_batches":
                value = getattr(value, "x", None)
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() > 0:
                sample = value[:2000].detach().float().cpu()
                found[name] = {
                    "mean": float(sample.mean()),
                    "std": float(sample.std()),
                    "min": float(sample.min()),
                    "max": float(sample.max()),
                }
        except Exception:  # a student's object may raise on access: no statistics for it
            continue
    return found


def harvest_net(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seed: int, seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``Net()``: built with the grader's seed, its output on 5 images of the grader's, its parameters."""
    if "Net" not in ns:
        return {"status": "missing"}, {}
    net_class = ns["Net"]
    if not (isinstance(net_class, type) and issubclass(net_class, nn.Module)):
        return {"status": "not-module"}, {}
    torch.manual_seed(seed)
    try:
        net = call_student("Net()", net_class, seconds=seconds)
    except StudentError as exc:
        return {"status": "init-error", "error": str(exc)}, {}
    if not isinstance(net, nn.Module):
        return {"status": "not-module"}, {}
    out = trainable(net)
    try:
        with torch.no_grad():
            output = call_student(
                "Net()(x) on a batch of shape (5, 1, 28, 28)", net, tensors["net_x"], seconds=seconds
            )
    except StudentError as exc:
        return {"status": "forward-error", "error": str(exc)}, out
    data: dict[str, Any] = {"status": "ok", "output": describe_value(output)}
    if isinstance(output, torch.Tensor):
        out["output"] = output.detach().float().cpu().contiguous()
    return data, out


def harvest_train_lowers(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Three epochs of the student's ``train_one_epoch`` on one fixed batch (Adam): the probe's weights after."""
    probe = make_probe(tensors, "lowers")
    x, y = tensors["lowers.x"], tensors["lowers.y"]
    batches = _batches(x, y, 32)
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.01)
    spy = TrainingSpy(probe, optimizer)
    try:
        for _ in range(3):
            call_student(
                "train_one_epoch(model, batches, optimizer, loss_fn)",
                ns["train_one_epoch"], probe, batches, optimizer, nn.CrossEntropyLoss(), seconds=seconds,
            )  # fmt: skip
    except StudentError as exc:
        return {"error": str(exc)}, {}
    finally:
        spy.remove()
    return {"error": None, **spy.data()}, trainable(probe)


def harvest_train_zero_grad(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """One epoch of two batches (SGD, lr 0.1): the probe's weights after, and what the function returned."""
    probe = make_probe(tensors, "zero_grad")
    batches = _batches(tensors["zero_grad.x"], tensors["zero_grad.y"], 16)
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.1)
    spy = TrainingSpy(probe, optimizer)
    try:
        returned = call_student(
            "train_one_epoch(model, batches, optimizer, loss_fn)", ns["train_one_epoch"],
            probe, batches, optimizer, nn.CrossEntropyLoss(), seconds=seconds,
        )  # fmt: skip
    except StudentError as exc:
        return {"error": str(exc)}, {}
    finally:
        spy.remove()
    return {"error": None, "returned": describe_value(returned), **spy.data()}, trainable(probe)


def harvest_train_mode(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """One batch of the student's ``train_one_epoch`` on a batch-norm probe left in eval mode: its
    batch-norm statistics after (they move only in a forward pass in training mode)."""
    probe = make_probe(tensors, "train_mode")
    probe.eval()  # as evaluate() leaves it after each epoch
    batches = _batches(tensors["train_mode.x"], tensors["train_mode.y"], 16)
    spy = ForwardSpy(probe)
    try:
        call_student(
            "train_one_epoch(model, batches, optimizer, loss_fn)", ns["train_one_epoch"],
            probe, batches, torch.optim.SGD(probe.parameters(), lr=0.01), nn.CrossEntropyLoss(), seconds=seconds,
        )  # fmt: skip
    except StudentError as exc:
        return {"error": str(exc)}, {}
    finally:
        spy.remove()
    statistics = {
        f"buffer.{name}": buffer.detach().to("cpu", copy=True).contiguous()
        for name, buffer in probe.named_buffers()
    }
    return {"error": None, "calls": spy.calls}, statistics


def harvest_evaluate(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The student's ``evaluate`` on the grader's probe, on 64 images then on 1,037: the values returned
    (and, for the hints, whether it called the probe at all)."""
    probe = make_probe(tensors, "evaluate")
    spy = ForwardSpy(probe)
    try:
        returned = call_student(
            "evaluate(model, x, y)",
            ns["evaluate"],
            probe,
            tensors["evaluate.x"],
            tensors["evaluate.y"],
            seconds=seconds,
        )
    except StudentError as exc:
        return {"error": str(exc), "calls": spy.calls}, {}
    finally:
        spy.remove()
    data: dict[str, Any] = {"error": None, "calls": spy.calls, "returned": describe_value(returned)}
    # a second call on 1,037 images (a prime number of them: whatever the chunk size, the last chunk
    # is smaller), where averaging per-chunk accuracies gives another number than the accuracy
    try:
        data["returned_big"] = describe_value(
            call_student(
                "evaluate(model, x, y)",
                ns["evaluate"],
                probe,
                tensors["evaluate_big.x"],
                tensors["evaluate_big.y"],
                seconds=seconds,
            )
        )
    except StudentError as exc:
        data["error_big"] = str(exc)
    return data, {}


def harvest_marked_evaluate(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], name: str, seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The student's ``evaluate`` on a marked probe (``eval_mode``: its scores move in training mode,
    left on by train_one_epoch; ``eval_no_grad``: they move under autograd): the value returned."""
    probe = make_probe(tensors, name)
    probe.train()  # as train_one_epoch leaves it
    try:
        returned = call_student(
            "evaluate(model, x, y)", ns["evaluate"], probe, tensors[f"{name}.x"], tensors[f"{name}.y"],
            seconds=seconds,
        )  # fmt: skip
    except StudentError as exc:
        return {"error": str(exc)}, {}
    return {"error": None, "returned": describe_value(returned)}, {}


def harvest_loss(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The student's ``loss_fn`` on the grader's logits and labels: its value and its gradient."""
    loss_fn = ns["loss_fn"]
    logits = tensors["loss.logits"].clone().requires_grad_(True)
    data: dict[str, Any] = {"type": type(loss_fn).__name__[:60]}
    try:
        with (
            warnings.catch_warnings()
        ):  # MSELoss warns of the broadcast it is about to fail: the hint says it
            warnings.simplefilter("ignore")
            value = call_student(
                "loss_fn(logits, y_batch)", loss_fn, logits, tensors["loss.y"], seconds=seconds
            )
    except StudentError as exc:
        return {**data, "error": None, "raised": str(exc)}, {}
    data.update(error=None, returned=describe_value(value))
    out: dict[str, torch.Tensor] = {}
    if isinstance(value, torch.Tensor):
        data["shape"] = list(value.shape)[:4]
        if value.numel() == 1 and value.requires_grad:
            with contextlib.suppress(Exception):  # not connected to the logits: no gradient to send
                (grad,) = torch.autograd.grad(value.reshape(()), logits)
                out["grad"] = grad.detach().float().cpu().contiguous()
    return data, out


def eval_logits(net: nn.Module, images: torch.Tensor, seconds: float, what: str) -> torch.Tensor:
    """``net``'s logits on ``images``, as the lecture's evaluate computes them (eval mode, no autograd),
    500 at a time, within ``seconds``; a failure is a one-line :class:`StudentError` naming ``what``."""
    try:
        with time_limit(seconds):
            net.eval()
            with torch.no_grad():
                chunks = [net(images[i : i + 500]).detach().float().cpu() for i in range(0, len(images), 500)]
        return torch.cat(chunks).contiguous()
    except TimeLimit:
        raise StudentError(f"{what} took more than {seconds:g} s on the checker's images") from None
    except Exception as exc:
        raise StudentError(f"{what} failed on the checker's images: {describe_exception(exc)}") from None


def harvest_model_copy(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A fresh ``Net()`` given ``model``'s ``state_dict`` (its parameters and buffers), then its logits
    on the private images. A trained network *is* its weights: the copy answers as ``model`` does. A
    model that answers from something else — an attribute set on it after ``Net()`` built it, a table
    filled later — does not carry it into the copy."""
    model, net_class = ns.get("model"), ns["Net"]
    if not (isinstance(model, nn.Module) and isinstance(net_class, type) and isinstance(model, net_class)):
        return {"error": None, "status": "not-net"}, {}
    try:
        copy = call_student("Net()", net_class, seconds=seconds)
        state = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
        copy.load_state_dict(state)
    except StudentError as exc:
        return {"error": str(exc)}, {}
    except Exception as exc:
        return {"error": f"a fresh Net() could not take `model`'s state_dict: {describe_exception(exc)}"}, {}
    try:
        logits = eval_logits(copy, tensors["private"], seconds, "a copy of `model`")
    except StudentError as exc:
        return {"error": str(exc)}, {}
    return {"error": None, "status": "ok"}, {"logits.private": logits}


def harvest_retrain(
    ns: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], seed: int, seconds: float
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A fresh ``Net()`` trained by the student's ``train_one_epoch`` (Adam, the grader's cross-entropy)
    on the grader's images and labels — labels whose classes the grader renamed by a permutation that
    stays in the grader — then its logits on the private images. A network that learns from the images
    it is given learns the renamed classes; a model that answers from a table of the dataset's labels
    cannot (it answers with the old names)."""
    if not (isinstance(ns["Net"], type) and issubclass(ns["Net"], nn.Module)):
        return {"error": None, "status": "not-module"}, {}
    torch.manual_seed(seed)
    try:
        net = call_student("Net()", ns["Net"], seconds=seconds)
    except StudentError as exc:
        return {"error": str(exc)}, {}
    if not isinstance(net, nn.Module) or not any(p.requires_grad for p in net.parameters()):
        return {"error": None, "status": "no-parameters"}, {}
    try:
        from drlab.data.batches import Batches

        batches: Any = Batches(
            tensors["retrain.x"], tensors["retrain.y"], batch_size=RETRAIN_BATCH, shuffle=True, seed=seed
        )
    except ImportError:
        batches = _batches(tensors["retrain.x"], tensors["retrain.y"], RETRAIN_BATCH)
    optimizer = torch.optim.Adam(net.parameters(), lr=RETRAIN_LR)
    try:
        for epoch in range(RETRAIN_EPOCHS):
            if hasattr(batches, "set_epoch"):
                batches.set_epoch(epoch)
            call_student(
                "train_one_epoch(model, batches, optimizer, loss_fn)", ns["train_one_epoch"],
                net, batches, optimizer, nn.CrossEntropyLoss(), seconds=seconds,
            )  # fmt: skip
        logits = eval_logits(net, tensors["private"], seconds, "the retrained Net")
    except StudentError as exc:
        return {"error": str(exc)}, {}
    return {"error": None, "status": "ok"}, {"logits.private": logits}


def harvest(
    namespace: Mapping[str, Any],
    tensors: Mapping[str, torch.Tensor],
    channel: Any,
    *,
    seed: int,
    seconds: float,
) -> None:
    """Every step, in the grader's order, each sent as soon as it ends.

    The trained ``model`` is measured first: the other steps call the student's functions, which might
    (wrongly) train the global ``model`` instead of the probe they are given.
    """
    needs = {
        "model": (),
        "model_copy": ("Net",),
        "net": (),
        "train_lowers": ("train_one_epoch",),
        "train_zero_grad": ("train_one_epoch",),
        "train_mode": ("train_one_epoch",),
        "evaluate": ("evaluate",),
        "eval_mode": ("evaluate",),
        "eval_no_grad": ("evaluate",),
        "loss": ("loss_fn",),
        "retrain": ("Net", "train_one_epoch"),
    }
    steps: dict[str, Callable[[], tuple[dict[str, Any], dict[str, torch.Tensor]]]] = {
        "model": lambda: harvest_model(namespace, tensors, seconds),
        "model_copy": lambda: harvest_model_copy(namespace, tensors, seconds),
        "net": lambda: harvest_net(namespace, tensors, seed, seconds),
        "train_lowers": lambda: harvest_train_lowers(namespace, tensors, seconds),
        "train_zero_grad": lambda: harvest_train_zero_grad(namespace, tensors, seconds),
        "train_mode": lambda: harvest_train_mode(namespace, tensors, seconds),
        "evaluate": lambda: harvest_evaluate(namespace, tensors, seconds),
        "eval_mode": lambda: harvest_marked_evaluate(namespace, tensors, "eval_mode", seconds),
        "eval_no_grad": lambda: harvest_marked_evaluate(namespace, tensors, "eval_no_grad", seconds),
        "loss": lambda: harvest_loss(namespace, tensors, seconds),
        "retrain": lambda: harvest_retrain(namespace, tensors, seed, seconds),
    }
    for name, step in steps.items():
        missing = [needed for needed in needs[name] if needed not in namespace]
        if missing:
            channel.send(name, {"error": None, "missing": missing[0]})
            continue
        if any(not callable(namespace[needed]) for needed in needs[name]):
            channel.send(
                name,
                {
                    "error": None,
                    "not_callable": needs[name][0],
                    "type": type(namespace[needs[name][0]]).__name__[:60],
                },
            )
            continue
        started = time.monotonic()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                data, out = step()
            except BaseException as exc:
                data, out = {"error": f"could not run: {describe_exception(exc)}"}, {}
        channel.send(name, {**data, "seconds": time.monotonic() - started}, out)


# --------------------------------------------------------------------------------------------------
# The script


def set_limits(limits: Mapping[str, int]) -> None:
    """Lower this process's limits, soft and hard, before any student code runs (no way back up)."""
    import resource

    wanted = {
        resource.RLIMIT_AS: limits.get("memory_bytes", 0),
        resource.RLIMIT_FSIZE: limits.get("disk_bytes", 0),
        resource.RLIMIT_NPROC: limits.get("processes", 0),
        resource.RLIMIT_CORE: 0,
    }
    for which, value in wanted.items():
        if value or which == resource.RLIMIT_CORE:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, (value, value))


def main(argv: list[str]) -> int:
    """``harvest.py REQUEST_DIR CHANNEL_FD``: run the notebook, then every step, frames to the channel."""
    request_dir, fd = Path(argv[1]), int(argv[2])
    limits = json.loads((request_dir / "limits.json").read_text(encoding="utf-8"))
    set_limits(limits)
    CLOCK.update({key: float(limits[key]) for key in CLOCK if key in limits})
    request = json.loads((request_dir / "request.json").read_text(encoding="utf-8"))
    from safetensors.torch import load_file

    tensors = load_file(str(request_dir / "request.safetensors"))
    channel = Channel(fd)
    # the notebook's own copy, in its empty working folder, as when the student runs it
    with contextlib.suppress(OSError):
        Path(request["notebook_name"]).write_bytes((request_dir / "notebook.ipynb").read_bytes())
    namespace, report = run_cells(request["cells"], float(request["notebook_seconds"]))
    # the cells are done: their tracers and profilers do not follow the grader's steps
    sys.settrace(None)
    sys.setprofile(None)
    threading.settrace(None)
    threading.setprofile(None)
    channel.send("cells", report)
    harvest(namespace, tensors, channel, seed=int(request["seed"]), seconds=float(request["check_seconds"]))
    channel.send("done", {})
    sys.stdout.flush()
    os._exit(0)  # skip the notebook's atexit handlers and threads: the sandbox ends here


if __name__ == "__main__":
    sys.exit(main(sys.argv))
