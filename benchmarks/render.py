"""Render the documentation's benchmarks page from the results files: one source for every figure.

Every file in ``benchmarks/results/`` is one measurement: what a benchmark's ``--save`` wrote (see
``benchmarks/record.py``), or a figure transcribed from the README's history, marked so, with the commit
that recorded it. This script turns them into ``docs/benchmarks.md``: one section per benchmark, its
measurements newest first, each with its date, machine, load, command and source. The page is never edited
by hand; a test fails when the committed page is not what this script renders.

    .venv/bin/python benchmarks/render.py            # rewrite docs/benchmarks.md
    .venv/bin/python benchmarks/render.py --check    # exit 1 if docs/benchmarks.md is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
REQUIRED = ("format", "benchmark", "date", "commit", "machine", "command", "result")

Rows = list[tuple[str, str]]


# ------------------------------------------------------------------------------------------------ figures
def fig(value: Any, spec: str = "", unit: str = "") -> str:
    """A figure as written on the page: a number, a list of runs ("1.17×, 1.20×"), or a range ("61–86 s")."""
    if value is None:
        return "—"
    if isinstance(value, dict) and set(value) == {"min", "max"}:
        return f"{fig(value['min'], spec)}–{fig(value['max'], spec)}{unit}"
    if isinstance(value, dict):  # labelled figures: "after 0.37×; before 0.36×"
        return "; ".join(f"{key} {fig(v, spec, unit)}" for key, v in value.items())
    if isinstance(value, list):
        return ", ".join(fig(v, spec, unit) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and spec:
        return format(value, spec) + unit
    return f"{value}{unit}"


def get(result: dict[str, Any], *path: str) -> Any:
    """``result[a][b]…``, or ``None`` where the measurement did not record it."""
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def rows(*candidates: tuple[str, Any, str, str]) -> Rows:
    """The (what, figure) rows whose figure was recorded: (what, value, format spec, unit)."""
    return [(what, fig(value, spec, unit)) for what, value, spec, unit in candidates if value is not None]


# ------------------------------------------------------------------------ one formatter per benchmark
def linreg(r: dict[str, Any]) -> Rows:
    methods = r.get("methods", {})
    out = rows(
        ("worst drlab method ÷ the lecture's snippet (target ≤ 1.1×)", r.get("max_ratio"), "g", "×"),
        ("worst method", r.get("max_ratio_method"), "", ""),
        ("a PyTorch (autograd) epoch ÷ a NumPy batch epoch",
         get(r, "methods", "autograd", "drlab_ratio_to_numpy_batch"), "g", "×"),
    )  # fmt: skip
    for method, row in methods.items():
        out += rows((f"`{method}`: µs per epoch (drlab)", row.get("drlab_us_per_epoch"), ",g", " µs"))
        out += rows((f"`{method}`: drlab ÷ lecture", row.get("ratio_drlab_to_lecture"), "g", "×"))
    return out


def data(r: dict[str, Any]) -> Rows:
    s = r.get("speedups", {})
    return rows(
        ("images per epoch", r.get("n"), ",", ""),
        ("data alone: `Batches` ÷ `DataLoader(TensorDataset)`", s.get("data_vs_tensor_dataset"), "g", "×"),
        ("data alone: `Batches` ÷ a per-sample pipeline", s.get("data_vs_per_sample"), "g", "×"),
        ("MLP epoch: `Batches` ÷ `DataLoader(TensorDataset)`", s.get("mlp_vs_tensor_dataset"), "g", "×"),
        ("MLP epoch: `Batches` ÷ a per-sample pipeline", s.get("mlp_vs_per_sample"), "g", "×"),
    )


def data_verify(r: dict[str, Any]) -> Rows:
    out: Rows = []
    names = {
        "debian_streamed": "Debian's copy, streamed in 1 MiB chunks",
        "naive_read_decompress_hash": "read, unpack and hash in one go",
        "zalando_own_bytes": "Zalando's exact bytes",
    }
    for key, what in names.items():
        out += rows((f"train images, {what}: time", get(r, key, "seconds"), "g", " s"))
        out += rows((f"train images, {what}: peak Python allocations", get(r, key, "peak_python_mib"), "g",
                     " MiB"))  # fmt: skip
    return out + rows(
        ("an 8 GiB file refused in", r.get("huge_8gib_refused_seconds"), "g", " s"),
        ("`load_fashion_mnist()`, verified", r.get("load_seconds_verify_true"), "g", " s"),
        ("`load_fashion_mnist(verify=False)`", r.get("load_seconds_verify_false"), "g", " s"),
    )


def train(r: dict[str, Any]) -> Rows:
    out: Rows = []
    for model, name in (("mlp", "MLP"), ("cnn", "small CNN")):
        out += rows(
            (f"{name}: drlab ÷ a minimal hand-written loop, whole epoch", get(r, model, "ratio_epoch"), ".2f",
             "×"),
            (f"{name}: drlab's training images/s", get(r, model, "drlab", "train_samples_per_s"), ",", ""),
            (f"{name}: drlab's fraction of the float32 matmul peak",
             get(r, model, "drlab", "fraction_of_matmul_peak"), ".0%", ""),
        )  # fmt: skip
    return out + rows(
        ("the MLP: drlab ÷ Lightning's Trainer", get(r, "lightning_mlp", "ratio"), "g", "×"),
        ("`drlab --help`", get(r, "startup_seconds", "drlab_help"), "g", " s"),
        ("`import lightning`", get(r, "startup_seconds", "import_lightning"), "g", " s"),
        ("epoch time, `zero_grad()` after `step()` ÷ before", r.get("zero_grad_after_step_epoch_ratio"), "g",
         "×"),
    ) + accuracy(r.get("accuracy", {}))  # fmt: skip


def accuracy(section: dict[str, Any]) -> Rows:
    out: Rows = []
    for name, run in section.items():
        out += rows((f"`drlab train` {name}: test accuracy", run.get("test_accuracy"), ".4f", ""))
        out += rows((f"`drlab train` {name}: wall time", run.get("seconds"), ",g", " s"))
    return out


def train_real(r: dict[str, Any]) -> Rows:
    out: Rows = []
    for model, m in get(r, "real", "models").items():
        goal = m.get("goal")
        out += rows(
            (f"`{model}`: epochs", m.get("epochs"), "", ""),
            (f"`{model}`: test accuracy, mean of the seeds", m.get("test_accuracy_mean"), ".4f", ""),
            (f"`{model}`: test accuracy, min", m.get("test_accuracy_min"), ".4f", ""),
            (f"`{model}`: test accuracy per seed", [run["test_accuracy"] for run in m.get("runs", [])] or None,
             ".4f", ""),
            (f"`{model}`: goal (mean ≥)", goal, "g", ""),
            (f"`{model}`: goal met", m.get("met"), "", ""),
            (f"`{model}`: wall time per run", m.get("wall_seconds"), ",g", " s"),
        )  # fmt: skip
        for level, seconds in m.get("seconds_to_val_accuracy", {}).items():
            out += rows((f"`{model}`: validation accuracy ≥ {level} after", seconds, ",g", " s"))
    return out


def tp1_command(r: dict[str, Any]) -> Rows:
    return rows(
        ("test accuracy", r.get("test_accuracy"), ".4f", ""),
        ("wall time", r.get("wall_seconds"), ",g", " s"),
        ("torch threads", r.get("threads"), "", ""),
    )


def speedrun(r: dict[str, Any]) -> Rows:
    out: Rows = []
    for name, recipe in r.get("recipes", {}).items():
        s = recipe.get("summary", {})
        runs = recipe.get("runs", [])  # saved by --save: per seed; transcribed files summarise instead
        per_seed = [run["test_accuracy"] for run in runs] or s.get("test_accuracy")
        walls = [run["wall_seconds"] for run in runs] or s.get("wall_seconds")
        out += rows(
            (f"`{name}`: test accuracy per seed", per_seed, ".4f", ""),
            (f"`{name}`: test accuracy, mean of the seeds", s.get("test_accuracy_mean"), ".4f", ""),
            (f"`{name}`: test accuracy, min", s.get("test_accuracy_min"), ".4f", ""),
            (f"`{name}`: wall time per run (data load included)", walls, ",g", " s"),
            (f"`{name}`: wall time, median", s.get("wall_seconds_median"), ",g", " s"),
            (f"`{name}`: wall time, mean", s.get("wall_seconds_mean"), ",g", " s"),
            (f"`{name}`: best validation accuracy", s.get("best_val_accuracy"), ".4f", ""),
            (f"`{name}`: training images/s", s.get("train_samples_per_s"), ",", ""),
            (f"`{name}`: fraction of the matmul peak", s.get("fraction_of_matmul_peak"), ".0%", ""),
        )
        for level, seconds in s.get("seconds_to_val", {}).items():
            what = f"`{name}`: validation accuracy ≥ {level} after"
            if isinstance(seconds, dict) and "mean_seconds" in seconds:  # {mean_seconds, runs_reaching}
                mean = fig(seconds["mean_seconds"], ",g", " s")
                out.append((what, f"{mean} (mean; {seconds['runs_reaching']} runs reached it)"))
            else:
                out += rows((what, seconds, ",g", " s"))
        for goal, check in (recipe.get("goals") or {}).items():
            verdict = "met" if check["met"] else "missed"
            out.append((f"`{name}`: goal {goal} {check['goal']}", f"{fig(check['measured'])}: {verdict}"))
    return out


def recipes(r: dict[str, Any]) -> Rows:
    out = [
        (f"validation accuracy: {what}", fig(value, ".4f")) for what, value in r.get("ablation", {}).items()
    ]
    out += [
        (f"cost per `cnn-bn` step: {what}", fig(v, "g", "%")) for what, v in r.get("step_cost", {}).items()
    ]
    out += [
        (f"bf16 ÷ float32 step: {what}", fig(v, ".2f", "×")) for what, v in r.get("bf16_speedup", {}).items()
    ]
    out += [(f"images/s: {what}", fig(v, ",")) for what, v in r.get("bf16_samples_per_s", {}).items()]
    out += [
        (f"`fast`, chosen on validation: {what}", fig(v)) for what, v in r.get("fast_choices", {}).items()
    ]
    return out


def distributed(r: dict[str, Any]) -> Rows:
    out: Rows = []
    for model, m in r.get("models", {}).items():
        name = model.upper()
        out += rows(
            (f"{name}: 2 processes ÷ 1 process on all cores", m.get("speedup_2procs_vs_1proc_all_cores"), ".2f",
             "×"),
            (f"{name}: gradient bytes per step", m.get("grad_mb_per_step"), "g", " MB"),
            (f"{name}: all-reduce over gloo (loopback)", m.get("allreduce_ms_gloo"), "g", " ms"),
            (f"{name}: all-reduce share of a step", m.get("allreduce_share_of_step"), ".0%", ""),
        )  # fmt: skip
        for link, ms in m.get("gpu_allreduce_ms_on_paper", {}).items():
            out += rows((f"{name}: all-reduce on paper, {link}", ms, "g", " ms"))
    return out + [(what, fig(v)) for what, v in r.get("notes", {}).items()]


def grading(r: dict[str, Any]) -> Rows:
    p, b, m = r.get("parallel", {}), r.get("baseline", {}), r.get("moodle", {})
    against = r.get("against", {})
    a, over = against.get("seconds", {}), against.get("over_older", {})
    older_commit = str(against.get("older", {}).get("commit", ""))[:7]
    jobs = p.get("jobs")
    return rows(
        ("notebooks in the class", r.get("count"), "", ""),
        ("budget", r.get("budget"), "", ""),
        ("each notebook in its own bwrap sandbox", r.get("sandboxed"), "", ""),
        (f"wall time, `--jobs {jobs}`", p.get("seconds"), ",g", " s"),
        (f"notebooks a minute, `--jobs {jobs}`", p.get("per_minute"), "g", ""),
        ("scores", p.get("scores"), "", ""),
        ("wall time, `--jobs 1`", b.get("seconds"), ",g", " s"),
        (f"`--jobs {jobs}` ÷ `--jobs 1` speed", r.get("speedup"), "g", "×"),
        ("the trained model's accuracy on the private images", r.get("private_accuracy"), ".4f", ""),
        ("the trained model's accuracy on the public test images", r.get("test_accuracy"), ".4f", ""),
        ("plain gradings of the folder (`--csv`), alternated", m.get("plain_seconds"), "", " s"),
        ("Moodle round trips (zip → worksheet, feedback.zip, report)", m.get("moodle_seconds"), "", " s"),
        ("round trip ÷ plain grading (medians)", m.get("moodle_over_plain"), "g", "×"),
        (f"older grader ({older_commit}), plain gradings, alternated", a.get("older_plain"), "", " s"),
        ("this grader, plain gradings, alternated with the older", a.get("plain"), "", " s"),
        ("this grader, Moodle round trips, alternated with the older", a.get("moodle"), "", " s"),
        ("plain grading ÷ the older grader's (medians)", over.get("plain"), "g", "×"),
        ("Moodle round trip ÷ the older grader's plain grading (medians)", over.get("moodle"), "g", "×"),
    )


def dqn(r: dict[str, Any]) -> Rows:
    d, s = r.get("drlab", {}), r.get("sb3", {})
    seeds = r.get("seeds")
    return rows(
        ("seeds × steps", None if seeds is None else f"{seeds} × {r.get('total_steps'):,}", "", ""),
        ("torch threads", r.get("threads"), "", ""),
        ("drlab env steps/s (median)", d.get("steps_per_s_median"), ",.0f", ""),
        ("SB3 env steps/s (median)", s.get("steps_per_s_median"), ",.0f", ""),
        ("drlab ÷ SB3 (target ≥ 1.5×)", r.get("speedup_vs_sb3"), ".2f", "×"),
        ("seeds whose greedy mean reached ≥ 475", d.get("seeds_reaching_475"), "", f" of {seeds}"),
        ("kept model ≥ 475 on re-evaluation", d.get("kept_model_ge_475"), "", f" of {seeds}"),
        ("kept model's re-evaluation", d.get("kept_model_reeval"), "g", ""),
    )


def rl_learning(r: dict[str, Any]) -> Rows:
    out: Rows = []
    for goal, g in r.get("goals", {}).items():
        runs = g.get("runs", [])
        out += rows(
            (f"{goal}: {g.get('algorithm')} on {g.get('env')}", g.get("summary"), "", ""),
            (f"{goal}: passed", g.get("passed"), "", ""),
            (f"{goal}: kept model, mean return per seed ({g.get('eval_episodes')} held-out episodes)",
             [run.get("kept_mean") for run in runs], ".1f", ""),
            (f"{goal}: its standard deviation per seed", [run.get("kept_std") for run in runs], ".1f", ""),
            (f"{goal}: first greedy evaluation ≥ the threshold, environment step per seed",
             [run.get("first_step_reaching_threshold") for run in runs], "", ""),
            (f"{goal}: final model, mean return per seed", [run.get("final_heldout_mean") for run in runs], ".1f", ""),
            (f"{goal}: environment steps per seed", [run.get("steps") for run in runs], "", ""),
            (f"{goal}: training episodes per seed", [run.get("episodes") for run in runs], "", ""),
        )  # fmt: skip
    return out


def pg(r: dict[str, Any]) -> Rows:
    out = rows(("seeds", r.get("seeds"), "", ""), ("torch threads", r.get("threads"), "", ""))
    for case, c in r.get("cases", {}).items():
        d, s = c.get("drlab", {}), c.get("sb3", {})
        out += rows(
            (f"{case}: budget (steps)", get(r, "budgets", case), ",", ""),
            (f"{case}: drlab env steps/s (median)", d.get("steps_per_s_median"), ",.0f", ""),
            (f"{case}: SB3 env steps/s (median)", s.get("steps_per_s_median"), ",.0f", ""),
            (f"{case}: drlab ÷ SB3 (target ≥ 1.5×)", c.get("speedup_vs_sb3"), ".2f", "×"),
            (f"{case}: drlab greedy return (step: mean) per seed",
             [" ".join(f"{step}: {mean:.0f}" for step, mean in run) for run in d.get("evaluations", [])], "", ""),
            (f"{case}: SB3 greedy return (step: mean) per seed",
             [" ".join(f"{step}: {mean:.0f}" for step, mean in run) for run in s.get("evaluations", [])], "", ""),
        )  # fmt: skip
    return out


def pg_profile(r: dict[str, Any]) -> Rows:
    out: Rows = []
    for case, libraries in r.get("profile", {}).items():
        for library, split in libraries.items():
            out += rows(
                (f"{case}, {library}: seconds (profiled)", split.get("seconds"), "g", " s"),
                (f"{case}, {library}: environment stepping", split.get("env_stepping"), ".0%", ""),
                (f"{case}, {library}: rollout forward passes and bookkeeping",
                 split.get("rollout_forward_and_rest"), ".0%", ""),
                (f"{case}, {library}: update", split.get("update"), ".0%", ""),
            )  # fmt: skip
    return out


def vector_envs(r: dict[str, Any]) -> Rows:
    out = rows(
        ("envpool version", r.get("envpool"), "", ""), ("alternated measurements", r.get("repeats"), "", "")
    )
    for env, e in r.get("envs", {}).items():
        out += rows(
            (f"{env} × {e.get('copies')}: drlab (gymnasium SyncVectorEnv) steps/s", e.get("drlab_steps_per_s"), ",.0f", ""),
            (f"{env} × {e.get('copies')}: envpool steps/s", e.get("envpool_steps_per_s"), ",.0f", ""),
            (f"{env}: envpool ÷ drlab", e.get("envpool_speedup"), ".2f", "×"),
        )  # fmt: skip
    return out


def gpu_check(r: dict[str, Any]) -> Rows:
    out = rows(("device", r.get("gpu") or r.get("device"), "", ""))
    for key, row in r.get("models", {}).items():
        out += rows((f"{key}: samples/s", row.get("samples_per_s"), ",", ""))
    return out


def generic(r: dict[str, Any], prefix: str = "") -> Rows:
    """Any other benchmark: its figures as recorded, flattened (give it a formatter above)."""
    out: Rows = []
    for key, value in r.items():
        if isinstance(value, dict) and set(value) != {"min", "max"}:
            out += generic(value, f"{prefix}{key} / ")
        else:
            out.append((f"{prefix}{key}", fig(value)))
    return out


@dataclass(frozen=True)
class Section:
    benchmark: str
    title: str
    about: str
    figures: Callable[[dict[str, Any]], Rows]


SECTIONS = (
    Section("linreg", "Lecture §2–4: the regression lab against the lecture's code",
            "Each `drlab linreg` method against the lecture's own snippet, interleaved in one process, and what "
            "an epoch costs in PyTorch against NumPy (at two parameters, autograd's fixed cost dominates).",
            linreg),
    Section("data", "Data: `Batches` against `DataLoader` pipelines",
            "One epoch of 28×28 images at batch 128: the data alone, then feeding a TP1 MLP epoch.", data),
    Section("data-verify", "Data: verifying the real Fashion-MNIST by content",
            "How fast, and in how much memory, drlab checks the real training images (Debian's copy).",
            data_verify),
    Section("tp1", "TP1: the first command",
            "`drlab train --offline`: the default MLP on the real Fashion-MNIST, 15 epochs.", tp1_command),
    Section("train-real", "TP1: the default recipes on the real Fashion-MNIST",
            "`drlab train --model M --seed S` (Adam lr 1e-3, cosine schedule, batch 128, 10% of the training "
            "images held out for validation), tested on the 10,000 real test images.", train_real),
    Section("speedrun", "TP1: the named recipes (`drlab train --recipe`)",
            "Each recipe and seed, the clock started before the data load, on the real Fashion-MNIST.",
            speedrun),
    Section("recipes", "TP1: how the recipes were chosen",
            "Short runs on the validation split, and what each option costs per step.", recipes),
    Section("train", "The training loop against a minimal hand-written loop, and Lightning",
            "Whole epochs (training over 60,000 synthetic images, evaluation over 10,000), alternated in one "
            "process.", train),
    Section("distributed", "Several processes: what a second process and the all-reduce cost",
            "Two gloo processes of one thread against one process using both cores; the all-reduce alone.",
            distributed),
    Section("grading", "Grading a class: `drlab check tp1`",
            "Copies of the instructor's solution graded through the real command line, each notebook in its "
            "own sandbox.", grading),
    Section("dqn", "Deep RL: DQN on CartPole against Stable-Baselines3",
            "Both libraries with the same settings, interleaved; evaluation time excluded from both speeds.",
            dqn),
    Section("rl-learning", "Deep RL: the learning goals of REINFORCE, A2C and PPO",
            "Each command's defaults (the environment's tuned settings) per seed, one torch thread; the kept "
            "(best-evaluated) model re-evaluated on 100 held-out start states.", rl_learning),
    Section("pg", "Deep RL: PPO and A2C against Stable-Baselines3",
            "Both libraries with identical settings (the zoo's, the same number of environment copies, one "
            "torch thread), alternated; evaluation time excluded from both speeds.", pg),
    Section("pg-profile", "Deep RL: where the time of PPO and A2C goes",
            "One run of each library under cProfile: environment stepping, the rollout's forward passes, "
            "the update, as shares of the run.", pg_profile),
    Section("vector-envs", "Deep RL: envpool against gymnasium's vector environments",
            "Raw environment steps per second with random actions, the two alternated in one process; "
            "drlab steps gymnasium's SyncVectorEnv with its episode statistics and replay wrappers.",
            vector_envs),
    Section("gpu_check", "On a GPU: `benchmarks/gpu_check.py`",
            "The MLP and the CNN on synthetic data, batch 128, fp32 and bf16.", gpu_check),
)  # fmt: skip


# ------------------------------------------------------------------------------------------- the page
def load(folder: Path = RESULTS) -> list[tuple[str, dict[str, Any]]]:
    """Every results file of ``folder`` as (its name without ``.json``, its record), checked."""
    records = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        missing = [key for key in REQUIRED if key not in record]
        if missing or record["format"] != 1:
            raise SystemExit(
                f"error: {path}: not a results file (missing {', '.join(missing) or 'format 1'})"
            )
        if record["commit"] is None and "transcribed" not in record:
            raise SystemExit(f"error: {path}: no commit, and not marked as transcribed")
        records.append((path.stem, record))
    return records


def conditions(record: dict[str, Any]) -> str:
    """One line: the machine, its load, and the conditions the measurement recorded."""
    m = record["machine"]
    parts = [m.get("gpu") or m.get("cpu") or m.get("description") or "CPU model not recorded"]
    if m.get("cores"):
        parts.append(f"{m['cores']} cores")
    if m.get("torch"):
        parts.append(f"torch {m['torch']}")
    load = m.get("load_average")
    if isinstance(load, list):
        parts.append("load average " + " / ".join(f"{x:g}" for x in load) + " (1 / 5 / 15 min)")
    elif load is not None:
        parts.append(f"load average {load}")
    return ", ".join(str(p) for p in parts)


def source(record: dict[str, Any]) -> str:
    transcribed = record.get("transcribed")
    if transcribed:
        return (f"transcribed from {transcribed['from']} as of commit `{transcribed['commit'][:7]}`"
                + (f" ({transcribed['note']})" if transcribed.get("note") else ""))  # fmt: skip
    return f"measured at commit `{record['commit'][:12]}`, saved by `--save`"


def block(stem: str, record: dict[str, Any], figures: Callable[[dict[str, Any]], Rows]) -> list[str]:
    label = f" — {record['label']}" if record.get("label") else ""
    lines = [f'<a id="{stem}"></a>', "", f"### {record['date'][:10]}{label}", ""]
    lines += [f"- **machine:** {conditions(record)}"]
    if record["result"].get("quick"):
        lines += ["- **a `--quick` smoke run:** tiny sizes, not a measurement to quote"]
    if record.get("conditions"):
        lines += [f"- **conditions:** {record['conditions']}"]
    lines += [f"- **command:** `{record['command']}`", f"- **source:** {source(record)}", ""]
    table = figures(record["result"])
    if table:
        lines += ["| what | figure |", "|---|---|"] + [f"| {what} | {value} |" for what, value in table]
    notes = record.get("notes") or []
    for note in [notes] if isinstance(notes, str) else notes:  # paragraphs under the table
        lines += ["", note]
    return [*lines, ""]


HEADER = """\
# Benchmarks

<!-- Generated by benchmarks/render.py from benchmarks/results/*.json: do not edit by hand. -->

Every figure on this page comes from one file in `benchmarks/results/`: what a benchmark script wrote
with `--save` (the date, the commit, the machine and its load, the command), or a figure transcribed from
the README's history, marked so with the commit that recorded it. Measurements are listed newest first;
each benchmark script (`benchmarks/NAME.py`, `--quick` for a smoke run) ends by printing `RESULT {{json}}`.
Speeds measured on a shared machine say as much about its other jobs as about drlab: read each one with its
load average. Accuracies and returns do not depend on the load (same seed, same threads, same numbers on
the CPU).

To add a measurement: `python benchmarks/NAME.py … --save`, then `python benchmarks/render.py`, and commit
both the new file and this page.

{toc}
"""


def render(records: list[tuple[str, dict[str, Any]]]) -> str:
    known = {section.benchmark for section in SECTIONS}
    others = sorted({r["benchmark"] for _, r in records} - known)
    sections = [*SECTIONS, *(Section(name, f"`{name}`", "", generic) for name in others)]
    body: list[str] = []
    toc: list[str] = []
    for section in sections:
        mine = [(stem, r) for stem, r in records if r["benchmark"] == section.benchmark]
        if not mine:
            continue
        mine.sort(key=lambda item: item[0])
        mine.sort(key=lambda item: item[1]["date"], reverse=True)  # newest first; a tie by file name
        toc.append(f"- [{section.title}](#{section.benchmark})")
        body += [f'<a id="{section.benchmark}"></a>', "", f"## {section.title}", ""]
        if section.about:
            body += [section.about, ""]
        for stem, record in mine:
            body += block(stem, record, section.figures)
    return HEADER.format(toc="\n".join(toc)) + "\n" + "\n".join(body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the page is not what would be rendered"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page to write or check")
    args = parser.parse_args(argv)
    text = render(load(args.results))
    if args.check:
        current = args.page.read_text(encoding="utf-8") if args.page.exists() else ""
        if current != text:
            print(f"error: {args.page} is out of date: run python benchmarks/render.py", file=sys.stderr)
            return 1
        return 0
    from drlab.common.io import write_text_atomic

    write_text_atomic(args.page, text)
    print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
