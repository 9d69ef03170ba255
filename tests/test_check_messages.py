"""The grader's message catalogue: each message written once per language, numbers in the reader's locale,
the sandbox's events worded by the grader, and the student's own words never translated.
"""

from __future__ import annotations

import ast
import itertools
import re
import string
from pathlib import Path
from typing import get_args

import pytest
from babel.numbers import get_decimal_symbol, get_group_symbol

from drlab.check import harvest
from drlab.check.messages import CATALOGUE, LANGS, fields_of, format_number, say, text
from drlab.check.report import Status
from drlab.check.tp1 import CHECK_IDS, CHECKS
from drlab.check.tp1.contract import CONTRACT, WHERE
from drlab.check.tp1.evidence import CALLS, sandbox_event

CHECK = Path(harvest.__file__).resolve().parent
#: the grader's code: every module of drlab/check/ but the catalogue itself
SOURCES = sorted(path for path in CHECK.rglob("*.py") if "messages" not in path.relative_to(CHECK).parts)


def literals(path: Path) -> list[str]:
    """The string constants of a module that are not docstrings (f-strings give their literal parts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # attribute docstrings (a string right after an annotated field) are documentation too
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for before, after in itertools.pairwise(body):
                if isinstance(before, ast.AnnAssign) and isinstance(after, ast.Expr):
                    docstrings.add(id(after.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


#: strings of four words or more in the grader's code that are not messages to the student
NOT_MESSAGES = {
    "must match the size": "PyTorch's words, looked for in the exception a student's loss_fn raised",
    "does not require grad": "PyTorch's words (backward() without a graph), looked for in an exception",
    "could not infer output dtype": "PyTorch's words (the mean of booleans), looked for in an exception",
    "before Module.__init__() call": "PyTorch's words (no super().__init__()), looked for in an exception",
    " training images the grader keeps back": "the description of the notebook's copy of the dataset "
    "(drlab.data's ImageDataset.source, English like every dataset's)",
}


def keys_named(path: Path) -> set[str]:
    """The keys a module names literally: ``text("key", …)``, ``Failed("key", …)``, ``say(lang, "key")``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            position = {"text": 0, "Failed": 0, "say": 1}.get(node.func.id)
            if position is not None and len(node.args) > position:
                argument = node.args[position]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.add(argument.value)
    return found


def test_every_message_exists_in_both_languages_with_the_same_fields() -> None:
    english, french = CATALOGUE["en"], CATALOGUE["fr"]
    assert list(english) == list(french)  # the same keys, in the same order: the two files read side by side
    for key in english:
        assert fields_of(english[key]) == fields_of(french[key]), key
        assert english[key] != french[key] or not re.search(r"[a-z]{3,} [a-z]{3,}", english[key]), key


def test_every_message_renders_in_both_languages() -> None:
    """Each template formats (braces balanced, specs valid for a number), whatever the language."""
    for key, template in CATALOGUE["en"].items():
        values = {name: 1234.5 if spec else "x" for name, spec in fields_of(template)}
        for lang in LANGS:
            assert "{" not in say(lang, key, **values).replace("{x}", ""), key


def test_every_message_is_used_and_every_key_used_exists() -> None:
    """A key the code names must be in the catalogue; a message no code names is dead."""
    named = {value for path in SOURCES for value in literals(path)}
    dynamic = {f"title.{check_id}" for check_id in CHECK_IDS} | {f"call.{call}" for call in CALLS}
    dynamic |= set(WHERE.values()) | {f"status.{status}" for status in get_args(Status)}
    unused = set(CATALOGUE["en"]) - named - dynamic
    assert unused == set()
    assert set().union(*(keys_named(path) for path in SOURCES)) - set(CATALOGUE["en"]) == set()


def test_no_message_is_written_outside_the_catalogue() -> None:
    """No piece of a catalogue message (a run of 24 characters or more between its fields) appears in a
    string of the grader's code: a hint, a title or a report word is written in one place."""
    pieces = {
        piece.strip()
        for table in CATALOGUE.values()
        for template in table.values()
        for piece, *_ in string.Formatter().parse(template)
        if len(piece.strip()) >= 24
    }
    found = {
        (path.name, piece)
        for path in SOURCES
        for value in literals(path)
        for piece in pieces
        if piece in value
    }
    assert found == set()


@pytest.mark.parametrize("path", [p for p in SOURCES if p.parent.name == "tp1" or p.name == "harvest.py"])
def test_the_checks_and_the_sandbox_write_no_sentences(path: Path) -> None:
    """The checks name messages by key, the sandbox sends events: neither holds a sentence of its own
    (four words or more in a string that is not a docstring)."""
    prose = [value for value in literals(path) if len(re.findall(r"\b[A-Za-zÀ-ÿ]{2,}\b", value)) >= 4]
    assert [value for value in prose if value not in NOT_MESSAGES] == []


def prose(text: str) -> str:
    """A message without its `code` spans (code keeps Python's own punctuation)."""
    return "".join(text.split("`")[::2])


def test_french_messages_follow_french_typography() -> None:
    """A French message has a no-break space before ":" and inside « », a narrow no-break space before ";",
    "?" and "!" — none of them a breaking space, one rule for the whole catalogue."""
    for key, template in CATALOGUE["fr"].items():
        values = {name: 1234.5 if spec else "x" for name, spec in fields_of(template)}
        shown = prose(say("fr", key, **values))
        assert not re.search(r"[ \u202f]:|[ \u00a0][;?!]|«[ \u202f]|[ \u202f]»", shown), (key, shown)
        assert not re.search(r"[^\s\u00a0\u202f(][;?!](\s|$)", shown), (key, shown)
    english = say("en", "decide.caused_by_hint", caused_by="a", hint="b")
    assert english == "a: b"  # English keeps its own


def test_numbers_are_fields_formatted_for_the_reader() -> None:
    """No message writes a number with decimals itself: each is a field, which Babel writes in the
    reader's locale ("0.92" in English, "0,92" in French); and the French words for accuracy, epoch and
    batch are the course's ("exactitude", "epoch", "batchs"), never "précision" (a metric of its own)."""
    for lang in LANGS:
        for key, template in CATALOGUE[lang].items():
            literal = "".join(piece for piece, *_ in string.Formatter().parse(template))
            assert not re.search(r"\d[.,]\d", prose(literal)), (lang, key)
    french = " ".join(prose(template) for template in CATALOGUE["fr"].values())
    assert not re.search(r"\b(précision|époques?|mini-batches|des batches)\b", french, re.IGNORECASE)
    assert "exactitude" in french and "epoch" in french and "batchs" in french


def test_the_contract_says_where_each_name_is_written() -> None:
    assert tuple(WHERE) == CONTRACT and all(key in CATALOGUE["en"] for key in WHERE.values())
    assert [check.id for check in CHECKS] == list(CHECK_IDS) and len(set(CHECK_IDS)) == 14


# --------------------------------------------------------------------------------------------------
# Numbers in the reader's locale


@pytest.mark.parametrize(
    ("value", "spec"),
    [(0.328125, ".4f"), (0.12345, ".4f"), (5000, ","), (5_000_000, ","), (1200.0, "g"), (0.5, "g"),
     (32.8125, "g"), (3.1e-05, ".2g"), (0.0031, ".2g"), (-0.42, ".2f"), (12.6, ".0f"), (0.85, ""), (7, ""),
     (float("inf"), ""), (float("nan"), ".4f")],
)  # fmt: skip
def test_numbers_read_as_python_writes_them_in_english_and_with_the_locales_symbols(
    value: float, spec: str
) -> None:
    """English is exactly Python's own format (the reports did not change); French has Babel's decimal
    and grouping symbols in their places, and the same digits."""
    python = format(value, spec)
    assert format_number(value, spec, "en") == python
    french = format_number(value, spec, "fr")
    expected = (
        python.replace(",", "\0").replace(".", get_decimal_symbol("fr")).replace("\0", get_group_symbol("fr"))
    )
    assert french == expected


def test_a_french_report_writes_french_numbers() -> None:
    assert say("fr", "model.size", count=12_345, low=1_000, high=5_000_000) == (
        f"`model` a 12{get_group_symbol('fr')}345 paramètres entraînables\u00a0: un Net du TP1 en a de "
        f"1{get_group_symbol('fr')}000 à 5{get_group_symbol('fr')}000{get_group_symbol('fr')}000"
    )
    assert say("en", "train.returns_ok", value=0.328125) == "0.3281, the mean of the batch losses"
    assert say("fr", "train.returns_ok", value=0.328125).startswith(f"0{get_decimal_symbol('fr')}3281,")


# --------------------------------------------------------------------------------------------------
# The sandbox's events, worded by the grader


def raised_by(function: object, *args: object, seconds: float = 5.0) -> dict[str, object]:
    with pytest.raises(harvest.StudentError) as info:
        harvest.call_student("evaluate", function, *args, seconds=seconds)  # type: ignore[arg-type]
    return info.value.event


def test_an_exception_of_the_students_code_is_quoted_verbatim_in_both_languages() -> None:
    """The student's own message is data: never translated, never read as a template, escaped for a
    terminal — even when it holds the very words the grader's French used to rewrite."""
    message = "x raised y (in f, at `g`) did not return within 5 s (an endless loop?) {value} \x1b[2J"

    def evaluate(model: object, x: object, y: object) -> float:
        raise ValueError(message)

    event = raised_by(evaluate, None, None, None)
    assert event["kind"] == "exception" and event["call"] == "evaluate" and event["type"] == "ValueError"
    shown = message.replace("\x1b", "\\x1b")  # escaped visibly (report.printable)
    assert sandbox_event(event).render("en") == (
        f"evaluate(model, x, y) raised ValueError: {shown} (in evaluate, at `raise ValueError(message)`)"
    )
    assert sandbox_event(event).render("fr") == (
        f"evaluate(model, x, y) a levé ValueError: {shown} (dans evaluate, à `raise ValueError(message)`)"
    )


def test_the_line_where_the_students_code_failed_is_named() -> None:
    def evaluate(model: object, x: object, y: object) -> float:
        return [1, 2][5]

    event = raised_by(evaluate, None, None, None)
    assert event["function"] == "evaluate" and event["line"] == "return [1, 2][5]"
    assert (
        sandbox_event(event)
        .render("en")
        .endswith("IndexError: list index out of range (in evaluate, at `return [1, 2][5]`)")
    )
    assert (
        sandbox_event(event)
        .render("fr")
        .endswith("IndexError: list index out of range (dans evaluate, à `return [1, 2][5]`)")
    )


def test_a_call_that_never_returns_is_a_timeout_event() -> None:
    def evaluate(model: object, x: object, y: object) -> float:
        while True:
            pass

    event = raised_by(evaluate, None, None, None, seconds=0.2)
    assert event == {"kind": "timeout", "call": "evaluate", "seconds": 0.2}
    assert (
        sandbox_event(event).render("en")
        == "evaluate(model, x, y) did not return within 0.2 s (an endless loop?)"
    )
    decimal = get_decimal_symbol("fr")
    assert sandbox_event(event).render("fr") == (
        f"evaluate(model, x, y) n'a pas répondu en 0{decimal}2 s (une boucle sans fin\u202f?)"
    )


@pytest.mark.parametrize(
    "event",
    ["evaluate raised ValueError", {"kind": "timeout", "call": "evaluate", "seconds": "soon"},
     {"kind": "exception", "call": "os.system"}, {"kind": "unknown"}, None],
)  # fmt: skip
def test_an_event_that_is_not_one_reads_as_malformed(event: object) -> None:
    """A forged frame's error (a sentence, a call the sandbox never makes) is shown as malformed data."""
    assert sandbox_event(event) == text("sandbox.malformed")
