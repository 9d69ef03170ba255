"""Submissions that look alike: pairs whose *own* code is near-identical — worth a look, never a verdict.

A student's own code is what remains of their code cells once three things are taken away:

1. comments, blank lines and layout (each line is re-spelled from its Python tokens);
2. every line of the exercise notebook handed out (the skeleton: imports, data loading, plots, TODOs);
3. every line that many submissions share (:data:`COMMON_SHARE` of the class): the idioms a correct TP1
   cannot avoid (``model.train()``, ``loss.backward()``…), which would make every good answer "alike".

Two submissions are then compared by the Jaccard similarity of their sets of :data:`SHINGLE`-token
sequences (as MOSS-style detectors do: reordering cells or renaming a comment does not hide a copy);
pairs with too little code of their own to tell (:data:`MIN_SHINGLES`) are not compared.
"""

from __future__ import annotations

import io
import itertools
import tokenize
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: a line present in at least this share of the class (and in 3 submissions) is common, not anyone's own
COMMON_SHARE = 0.2
#: tokens per shingle
SHINGLE = 8
#: a submission with fewer shingles of its own than this is not compared: a two-line answer written alike
#: by two students (the same ``loss_fn`` with the same mistake) says nothing
MIN_SHINGLES = 60
#: nor a pair that shares fewer lines of their own than this
MIN_SHARED_LINES = 4
#: pairs at or above this similarity are shown
THRESHOLD = 0.6
#: at most this many pairs are shown
TOP = 25

_SKIPPED_TOKENS = {
    tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
    tokenize.ENCODING,
}  # fmt: skip


@dataclass(frozen=True)
class Pair:
    """Two submissions whose own code is alike."""

    first: str
    second: str
    similarity: float
    """Jaccard similarity of their shingles, in [0, 1]"""
    shared_lines: int
    """lines of their own code both have"""


def code_lines(source: str) -> list[str]:
    """The logical lines of ``source``, each spelled as its tokens joined by one space (comments, blank
    lines, indentation and line continuations gone). IPython magics and shell lines are dropped."""
    cleaned = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    lines: list[str] = []
    current: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(cleaned + "\n").readline):
            if token.type == tokenize.NEWLINE:
                if current:
                    lines.append(" ".join(current))
                current = []
            elif token.type not in _SKIPPED_TOKENS:
                current.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # code that does not tokenize (a syntax error): fall back on its stripped lines, comments cut naively
        return [
            line.split("#", 1)[0].strip() for line in cleaned.splitlines() if line.split("#", 1)[0].strip()
        ]
    if current:
        lines.append(" ".join(current))
    return lines


def own_lines(cells: Sequence[str], skeleton: set[str]) -> list[str]:
    """The lines of ``cells`` (code-cell sources) that are not in the skeleton."""
    return [line for source in cells for line in code_lines(source) if line not in skeleton]


def _shingles(lines: Sequence[str]) -> set[tuple[str, ...]]:
    tokens = " ".join(lines).split(" ")
    return {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


def alike_pairs(
    submissions: Mapping[str, Sequence[str]],
    skeleton_cells: Sequence[str] = (),
    *,
    threshold: float = THRESHOLD,
    top: int = TOP,
) -> list[Pair]:
    """The pairs of ``submissions`` (name → its code cells) whose own code is alike, most similar first."""
    skeleton = {line for source in skeleton_cells for line in code_lines(source)}
    own = {name: own_lines(cells, skeleton) for name, cells in submissions.items()}
    # a line many submissions share is common knowledge, not a sign of copying
    holders = Counter(line for lines in own.values() for line in set(lines))
    common_from = max(3, COMMON_SHARE * len(own))
    common = {line for line, count in holders.items() if count >= common_from}
    kept = {name: [line for line in lines if line not in common] for name, lines in own.items()}
    shingles = {name: _shingles(lines) for name, lines in kept.items()}
    pairs = []
    for first, second in itertools.combinations(sorted(kept), 2):
        a, b = shingles[first], shingles[second]
        if len(a) < MIN_SHINGLES or len(b) < MIN_SHINGLES:
            continue
        similarity = len(a & b) / len(a | b)
        shared = len(set(kept[first]) & set(kept[second]))
        if similarity >= threshold and shared >= MIN_SHARED_LINES:
            pairs.append(Pair(first, second, similarity, shared))
    pairs.sort(key=lambda pair: (-pair.similarity, pair.first, pair.second))
    return pairs[:top]


__all__ = ["COMMON_SHARE", "MIN_SHINGLES", "THRESHOLD", "Pair", "alike_pairs", "code_lines", "own_lines"]
