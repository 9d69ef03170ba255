"""The sandbox's side of ``drlab check tp1``: run the notebook, call its functions, send back *data*.

This file runs inside the sandbox (:mod:`drlab.check.sandbox`), as a script, in a process where the
student's code runs too — so nothing here decides anything. It

1. runs the notebook's code cells one after the other in an IPython shell (magics work; a failing
   cell does not stop the next; the whole notebook has one time limit);
2. calls the student's ``Net``, ``train_one_epoch``, ``evaluate`` and ``model`` on the inputs the
   grader chose (probe networks and images, read from the request folder);
3. writes what came out — tensors as safetensors, numbers and types as JSON — to the data channel, one
   *frame* per step, as soon as the step ends (a kill mid-way keeps the steps done). What went wrong is
   sent as an *event* (``{"kind": "timeout", "call": "evaluate", "seconds": 60}``, ``{"kind":
   "exception", …}``), never as a sentence: the grader words it, in the report's language.

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
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors
from torch import nn

Namespace = Mapping[str, Any]
Tensors = Mapping[str, torch.Tensor]
#: what a step sends: JSON data, and tensors
Frame = tuple[dict[str, Any], dict[str, torch.Tensor]]
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
#: how the grader trains a probe with the student's train_one_epoch: epochs, batch size, optimizer, learning
#: rate, and the label smoothing of the cross-entropy it is given — not the notebook's loss on the zero_grad
#: probe, so that a function that ignores its loss_fn argument trains another way
PROBE_TRAINING: dict[str, tuple[int, int, str, float, float]] = {
    "lowers": (3, 32, "Adam", 0.01, 0.0),
    "zero_grad": (1, 16, "SGD", 0.1, 0.1),
}
#: the names a TP1 notebook defines (for the report's "does not define …" line)
CONTRACT = ("Net", "train_one_epoch", "evaluate", "loss_fn", "model", "test_accuracy")


class ProbeNet(nn.Module):
    """The grader's own small CNN, trained and evaluated with the student's functions.

    A ``marker`` makes one mistake of ``evaluate`` show, exactly, in the number it returns: with
    ``"training"`` each prediction becomes the next class while the model is in training mode, with
    ``"autograd"`` while autograd records the forward pass. A real network changes in training mode too
    (dropout, batch norm), by an amount nobody can predict; a marked probe, by one the grader computes.
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
        moved = {"training": self.training, "autograd": torch.is_grad_enabled()}.get(self.marker, False)
        return logits.roll(1, dims=1) if moved else logits


class ForwardSpy:
    """Records, at each forward call of a model, its mode (any sub-module training?), autograd's state and
    how many images it was given (-1: not a tensor)."""

    def __init__(self, model: nn.Module) -> None:
        self.calls: list[tuple[bool, bool, int]] = []
        self._handle = model.register_forward_pre_hook(self._record)

    def _record(self, module: nn.Module, inputs: Any) -> None:
        training = any(m.training for m in module.modules())
        first = inputs[0] if inputs else None
        rows = int(first.shape[0]) if isinstance(first, torch.Tensor) and first.ndim else -1
        self.calls.append((training, torch.is_grad_enabled(), rows))

    def remove(self) -> None:
        self._handle.remove()


class TrainingSpy:
    """Evidence of the four steps inside the student's ``train_one_epoch``, for the grader's hints: the
    model's forward calls (❶) and the images of each, the calls of the loss function it was given (❷:
    :meth:`loss_fn` is what it receives), the gradients that reached the model's parameters during
    ``loss.backward()`` (❸) and, at each ``optimizer.step()`` (❹), whether the parameters' ``.grad``
    held anything: ``"none"`` (all empty), ``"zero"`` (all zero) or ``"some"``."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: nn.Module) -> None:
        self.forward = ForwardSpy(model)
        self.gradients_in = self.loss_calls = 0
        self.steps: list[str] = []
        self._loss = loss
        self._handles = [p.register_hook(self._count) for p in model.parameters() if p.requires_grad]
        self._handles.append(optimizer.register_step_pre_hook(self._before_step))

    def loss_fn(self, logits: Any, labels: Any) -> Any:
        self.loss_calls += 1
        return self._loss(logits, labels)

    def _count(self, grad: torch.Tensor) -> None:
        self.gradients_in += 1

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        self.steps.append("none" if not grads else "some" if any(bool(g.any()) for g in grads) else "zero")

    def data(self) -> dict[str, Any]:
        return {
            "forward_calls": len(self.forward.calls),
            "rows": [rows for *_, rows in self.forward.calls[:1000]],
            "loss_calls": self.loss_calls,
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


# --- Calling the student's code: a time limit, one-line errors


class TimeLimit(BaseException):
    """Raised in the student's code when its time is up (a BaseException: ``except Exception`` won't hide it)."""


class StudentError(Exception):
    """The student's code raised or ran too long: ``event`` says which, as data for the grader."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__(event.get("kind"))
        self.event = event


#: how :func:`time_limit` counts (:func:`main` sets it from limits.json)
CLOCK = {"cpus": 1.0, "wall_factor": 3.0, "idle_share": 0.02, "window": 30.0}


@contextlib.contextmanager
def time_limit(seconds: float, on_timeout: Callable[[str], None] | None = None) -> Iterator[None]:
    """Call ``on_timeout(how)`` (default: raise :class:`TimeLimit`) in the block when it has computed for
    ``seconds`` × ``cpus`` of CPU time (``"cpu"``: a busy machine or a classmate does not eat it), waited
    ``seconds`` on the clock using under ``idle_share`` of a CPU (``"idle"``, looked at every ``window`` s),
    or run ``wall_factor`` × ``seconds`` (``"clock"``). POSIX main thread only (else no limit); a notebook
    can switch the timers off, the sandbox's own limits still end it."""
    armed = seconds > 0 and hasattr(signal, "setitimer")
    if not armed or threading.current_thread() is not threading.main_thread():
        yield
        return
    started = mark = time.monotonic()
    cpu_mark = time.process_time()

    def fired(signum: int, frame: Any) -> None:
        nonlocal mark, cpu_mark
        how = "cpu"
        if signum == signal.SIGALRM:
            now, cpu = time.monotonic(), time.process_time()
            computing = cpu - cpu_mark >= CLOCK["idle_share"] * (now - mark)
            left = seconds * CLOCK["wall_factor"] - (now - started)
            if computing and left > 0:  # slowed down by a busy machine, not waiting: look again later
                mark, cpu_mark = now, cpu
                signal.setitimer(signal.ITIMER_REAL, min(CLOCK["window"], left))
                return
            how = "clock" if computing else "idle"
        if on_timeout is None:
            raise TimeLimit
        on_timeout(how)

    previous = {signum: signal.signal(signum, fired) for signum in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, seconds * CLOCK["cpus"])
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        for timer in (signal.ITIMER_PROF, signal.ITIMER_REAL):
            signal.setitimer(timer, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_LIBRARY_PATHS = tuple(
    path for path in {sysconfig.get_paths().get("stdlib", ""), str(Path(__file__).parent)} if path
)


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """The exception's type, the first line of its message, and the student's function and line where it
    happened when we can find them (``None`` otherwise): ``{"type", "message", "function", "line"}``."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    first = first if len(first) <= 240 else first[:237] + "…"
    function = line = None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if "site-packages" in name or name.startswith(_LIBRARY_PATHS) or name.startswith("<frozen"):
            continue
        if "/drlab/" in name:  # drlab's own library code, called by the student's
            continue
        source = (frame.line or linecache.getline(name, frame.lineno or 0)).strip()
        if source and not (first and first in source):  # `raise X("message")` would only repeat the message
            function, line = frame.name, source[:100]
        break
    return {"type": type(exc).__name__[:80], "message": first, "function": function, "line": line}


def call_student(call: str, function: Callable[..., Any], *args: Any, seconds: float) -> Any:
    """Call the student's ``function(*args)`` with a time limit; a failure is a StudentError whose event
    names the ``call`` (``"net_init"``, ``"evaluate"``…) and what happened."""
    try:
        with time_limit(seconds):
            return function(*args)
    except TimeLimit:
        raise StudentError({"kind": "timeout", "call": call, "seconds": seconds}) from None
    except Exception as exc:
        raise StudentError({"kind": "exception", "call": call, **describe_exception(exc)}) from None


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


# --- The data channel


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


# --- The notebook's cells


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

    try:
        with time_limit(seconds, stop):
            for cell in cells:
                index, source = int(cell["index"]), str(cell["source"])
                exc: BaseException | None = None
                count: int | None = None
                try:
                    if shell is not None:
                        count = shell.execution_count
                        result = shell.run_cell(source, store_history=True)
                        exc = result.error_before_exec or result.error_in_exec
                    else:  # the cell's lines for tracebacks, as IPython keeps them
                        linecache.cache[f"<cell {index}>"] = (len(source), None, source.splitlines(True), "")
                        exec(compile(source, f"<cell {index}>", "exec"), namespace)
                except NotebookTimeout as timeout:
                    exc = timeout
                except BaseException as raised:
                    exc = raised
                if isinstance(exc, NotebookTimeout):
                    timed_out_at = index
                    break
                if exc is not None:
                    ename, evalue = type(exc).__name__[:80], str(exc).strip()[:300]
                    errors.append(
                        {"index": index, "ename": ename, "evalue": evalue, "line": _cell_line(exc, count)}
                    )
                pyplot = sys.modules.get("matplotlib.pyplot")
                if pyplot is not None:  # free the figures the cell drew: nobody looks at them here
                    with contextlib.suppress(Exception):
                        pyplot.close("all")
    except NotebookTimeout:
        timed_out_at = timed_out_at if timed_out_at is not None else -1
    report = {
        "errors": errors,
        "timed_out_at": timed_out_at,
        "timed_out_by": timed_out_by,
        "seconds": time.monotonic() - started,
        "defined": [name for name in CONTRACT if name in namespace],
    }
    return namespace, report


# --- The steps: each calls the student's code on the grader's inputs and sends what came out


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Any:
    """The mini-batches a TP1 function receives: drlab's ``Batches`` (as in the notebook), else a list."""
    try:
        from drlab.data.batches import Batches

        return Batches(x, y, batch_size=batch_size, shuffle=False)
    except ImportError:
        return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(y), batch_size)]


def harvest_model(ns: Namespace, tensors: Tensors, seconds: float) -> Frame:
    """``model``: is it a Net, its weights, its logits on the public test images and on the grader's own;
    and what the training cell left: its losses, its learning rate, the first images and labels it trained on."""
    data: dict[str, Any] = {
        "test_accuracy": describe_value(ns["test_accuracy"]) if "test_accuracy" in ns else None,
        "inputs": input_statistics(ns),
    }
    out: dict[str, torch.Tensor] = {}
    with contextlib.suppress(Exception):  # the student's objects may be anything: no record of them then
        data["train_loss"] = [float(loss) for loss in ns["history"]["train_loss"][:200]]
    with contextlib.suppress(Exception):
        group = ns["optimizer"].param_groups[0]
        data["lr"] = float(group.get("initial_lr", group["lr"]))
    with contextlib.suppress(Exception):
        batches = ns["train_batches"]
        out = {"sample.x": batches.x[:256].detach().float().cpu(), "sample.y": batches.y[:256].cpu().long()}
    if "model" not in ns:
        return {**data, "status": "missing"}, out
    model = ns["model"]
    if not isinstance(model, nn.Module):
        return {**data, "status": "not-module", "type": type(model).__name__[:60]}, out
    net_class = ns.get("Net")
    data["is_net"] = isinstance(net_class, type) and isinstance(model, net_class)
    data["type"] = type(model).__name__[:60]
    out.update(trainable(model))
    try:
        for name in ("test", "private"):
            out[f"logits.{name}"] = eval_logits(model, tensors[name], seconds, "model")
    except StudentError as exc:
        return {**data, "status": "error", "error": exc.event}, out
    return {**data, "status": "ok"}, out


def eval_logits(net: nn.Module, images: torch.Tensor, seconds: float, call: str) -> torch.Tensor:
    """``net``'s logits on ``images`` as the lecture's evaluate computes them (eval mode, no autograd),
    500 at a time, within ``seconds``; a failure is a :class:`StudentError` naming the ``call``."""
    device = next((parameter.device for parameter in net.parameters()), torch.device("cpu"))

    def logits() -> torch.Tensor:
        net.eval()
        with torch.no_grad():
            chunks = [net(images[i : i + 500].to(device)).float().cpu() for i in range(0, len(images), 500)]
        return torch.cat(chunks).contiguous()

    return call_student(call, logits, seconds=seconds)


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
                found[name] = {key: float(getattr(sample, key)()) for key in ("mean", "std", "min", "max")}
        except Exception:  # a student's object may raise on access: no statistics for it
            continue
    return found


def harvest_net(ns: Namespace, tensors: Tensors, seed: int, seconds: float) -> Frame:
    """``Net()``: built with the grader's seed, its output on 5 images of the grader's, its parameters, and
    the images' spread where its first layer receives them, relative to the images' own (``x / 255`` shows)."""
    if "Net" not in ns:
        return {"status": "missing"}, {}
    net_class = ns["Net"]
    if not (isinstance(net_class, type) and issubclass(net_class, nn.Module)):
        return {"status": "not-module"}, {}
    torch.manual_seed(seed)
    try:
        net = call_student("net_init", net_class, seconds=seconds)
    except StudentError as exc:
        return {"status": "init-error", "error": exc.event}, {}
    if not isinstance(net, nn.Module):
        return {"status": "not-module"}, {}
    out = trainable(net)
    spreads: list[float] = []  # the first layer's input, relative to the images: x / 255 shows

    def first_layer(module: nn.Module, inputs: Any) -> None:
        if not spreads and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].is_floating_point():
            spreads.append(float(inputs[0].std()) / float(tensors["net_x"].std()))

    hooks = [
        m.register_forward_pre_hook(first_layer) for m in net.modules() if next(m.children(), None) is None
    ]
    try:
        with torch.no_grad():
            output = call_student("net_forward", net, tensors["net_x"], seconds=seconds)
    except StudentError as exc:
        return {"status": "forward-error", "error": exc.event}, out
    finally:
        for hook in hooks:
            hook.remove()
    data: dict[str, Any] = {"status": "ok", "output": describe_value(output), "input_scale": spreads[:1]}
    if isinstance(output, torch.Tensor):
        out["output"] = output.detach().float().cpu().contiguous()
    return data, out


def harvest_training(ns: Namespace, tensors: Tensors, name: str, seconds: float) -> Frame:
    """The student's ``train_one_epoch`` on probe ``name``, as :data:`PROBE_TRAINING` says: the probe's
    weights after, what the last call returned, and what the spy saw of the four steps."""
    epochs, batch_size, optimizer_name, lr, smoothing = PROBE_TRAINING[name]
    probe = make_probe(tensors, name)
    batches = _batches(tensors[f"{name}.x"], tensors[f"{name}.y"], batch_size)
    optimizer = getattr(torch.optim, optimizer_name)(probe.parameters(), lr=lr)
    spy = TrainingSpy(probe, optimizer, nn.CrossEntropyLoss(label_smoothing=smoothing))
    arguments = (probe, batches, optimizer, spy.loss_fn)
    try:
        for _ in range(epochs):
            returned = call_student("train_one_epoch", ns["train_one_epoch"], *arguments, seconds=seconds)
    except StudentError as exc:
        return {"error": exc.event}, {}
    finally:
        spy.remove()
    return {"error": None, "returned": describe_value(returned), **spy.data()}, trainable(probe)


def harvest_train_mode(ns: Namespace, tensors: Tensors, seconds: float) -> Frame:
    """One batch of the student's ``train_one_epoch`` on a batch-norm probe left in eval mode: its
    batch-norm statistics after (they move only in a forward pass in training mode)."""
    probe = make_probe(tensors, "train_mode")
    probe.eval()  # as evaluate() leaves it after each epoch
    batches = _batches(tensors["train_mode.x"], tensors["train_mode.y"], 16)
    spy = ForwardSpy(probe)
    try:
        call_student(
            "train_one_epoch", ns["train_one_epoch"],
            probe, batches, torch.optim.SGD(probe.parameters(), lr=0.01), nn.CrossEntropyLoss(), seconds=seconds,
        )  # fmt: skip
    except StudentError as exc:
        return {"error": exc.event}, {}
    finally:
        spy.remove()
    statistics = {
        f"buffer.{name}": buffer.detach().to("cpu", copy=True).contiguous()
        for name, buffer in probe.named_buffers()
    }
    return {"error": None, "calls": spy.calls}, statistics


def harvest_evaluate(ns: Namespace, tensors: Tensors, seconds: float) -> Frame:
    """The student's ``evaluate`` on the grader's probe, on 64 images then on 1,037: the values returned
    (and, for the hints, whether it called the probe at all)."""
    probe = make_probe(tensors, "evaluate")
    spy = ForwardSpy(probe)
    try:
        returned = call_student(
            "evaluate", ns["evaluate"], probe, tensors["evaluate.x"], tensors["evaluate.y"], seconds=seconds
        )
    except StudentError as exc:
        return {"error": exc.event, "calls": spy.calls}, {}
    finally:
        spy.remove()
    data: dict[str, Any] = {"error": None, "calls": spy.calls, "returned": describe_value(returned)}
    # a second call on 1,037 images (a prime number of them: whatever the chunk size, the last chunk
    # is smaller), where averaging per-chunk accuracies gives another number than the accuracy
    big_x, big_y = tensors["evaluate_big.x"], tensors["evaluate_big.y"]
    try:
        data["returned_big"] = describe_value(
            call_student("evaluate", ns["evaluate"], probe, big_x, big_y, seconds=seconds)
        )
    except StudentError as exc:
        data["error_big"] = exc.event
    return data, {}


def harvest_marked_evaluate(ns: Namespace, tensors: Tensors, name: str, seconds: float) -> Frame:
    """The student's ``evaluate`` on a marked probe (``eval_mode``: its scores move in training mode,
    left on by train_one_epoch; ``eval_no_grad``: they move under autograd): the value returned."""
    probe = make_probe(tensors, name)
    probe.train()  # as train_one_epoch leaves it
    try:
        returned = call_student(
            "evaluate", ns["evaluate"], probe, tensors[f"{name}.x"], tensors[f"{name}.y"], seconds=seconds
        )
    except StudentError as exc:
        return {"error": exc.event}, {}
    return {"error": None, "returned": describe_value(returned)}, {}


def harvest_loss(ns: Namespace, tensors: Tensors, seconds: float) -> Frame:
    """The student's ``loss_fn`` on the grader's logits and labels: its value and its gradient."""
    loss_fn = ns["loss_fn"]
    logits = tensors["loss.logits"].clone().requires_grad_(True)
    data: dict[str, Any] = {"type": type(loss_fn).__name__[:60]}
    try:
        with (
            warnings.catch_warnings()
        ):  # MSELoss warns of the broadcast it is about to fail: the hint says it
            warnings.simplefilter("ignore")
            value = call_student("loss_fn", loss_fn, logits, tensors["loss.y"], seconds=seconds)
    except StudentError as exc:
        return {**data, "error": None, "raised": exc.event}, {}
    data.update(error=None, returned=describe_value(value))
    out: dict[str, torch.Tensor] = {}
    if isinstance(value, torch.Tensor):
        data["shape"] = list(value.shape)[:4]
        if value.numel() == 1 and value.requires_grad:
            with contextlib.suppress(Exception):  # not connected to the logits: no gradient to send
                (grad,) = torch.autograd.grad(value.reshape(()), logits)
                out["grad"] = grad.detach().float().cpu().contiguous()
    return data, out


def harvest(ns: Namespace, tensors: Tensors, channel: Any, *, seed: int, seconds: float) -> None:
    """Every step, in the grader's order, each sent as soon as it ends. The trained ``model`` is measured
    first: the other steps call the student's functions, which might (wrongly) train the global ``model``."""
    t = tensors
    steps: dict[str, tuple[str, Callable[[], Frame]]] = {  # each step, and the names of the contract it calls
        "model": ("", lambda: harvest_model(ns, t, seconds)),
        "net": ("", lambda: harvest_net(ns, t, seed, seconds)),
        "train_lowers": ("train_one_epoch", lambda: harvest_training(ns, t, "lowers", seconds)),
        "train_zero_grad": ("train_one_epoch", lambda: harvest_training(ns, t, "zero_grad", seconds)),
        "train_mode": ("train_one_epoch", lambda: harvest_train_mode(ns, t, seconds)),
        "evaluate": ("evaluate", lambda: harvest_evaluate(ns, t, seconds)),
        "eval_mode": ("evaluate", lambda: harvest_marked_evaluate(ns, t, "eval_mode", seconds)),
        "eval_no_grad": ("evaluate", lambda: harvest_marked_evaluate(ns, t, "eval_no_grad", seconds)),
        "loss": ("loss_fn", lambda: harvest_loss(ns, t, seconds)),
    }
    for name, (needs, run) in steps.items():
        absent = next((n for n in needs.split() if not callable(ns.get(n))), None)
        if absent is not None:  # a name the step calls is not defined, or not a function
            shown = {"not_callable": absent, "type": type(ns[absent]).__name__[:60]} if absent in ns else {}
            channel.send(name, {"error": None, **(shown or {"missing": absent})})
            continue
        started = time.monotonic()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                data, out = run()
            except BaseException as exc:
                data, out = {"error": {"kind": "crash", **describe_exception(exc)}}, {}
        channel.send(name, {**data, "seconds": time.monotonic() - started}, out)


# --- The script


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
    tensors = load_file(str(request_dir / "request.safetensors"))
    channel = Channel(fd)
    # the notebook's own copy, in its empty working folder, as when the student runs it
    with contextlib.suppress(OSError):
        Path(request["notebook_name"]).write_bytes((request_dir / "notebook.ipynb").read_bytes())
    namespace, report = run_cells(request["cells"], float(request["notebook_seconds"]))
    # the cells are done: their tracers and profilers do not follow the grader's steps
    for switch_off in (sys.settrace, sys.setprofile, threading.settrace, threading.setprofile):
        switch_off(None)
    channel.send("cells", report)
    harvest(namespace, tensors, channel, seed=int(request["seed"]), seconds=float(request["check_seconds"]))
    channel.send("done", {})
    sys.stdout.flush()
    os._exit(0)  # skip the notebook's atexit handlers and threads: the sandbox ends here


if __name__ == "__main__":
    sys.exit(main(sys.argv))
