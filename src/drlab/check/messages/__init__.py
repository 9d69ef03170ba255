"""The grader's one message catalogue: every title, hint, sandbox event and report word, once per language.

The texts live in :mod:`.en` and :mod:`.fr`, one table per language with the same keys in the same
order (a test holds them to the same keys and the same format fields). Code never writes a sentence: it
names a message by its key, with its values (:func:`text`), and the report renders it in the reader's
language (:meth:`Text.render`). A value is shown as follows:

- a number (int or float, not bool) by the reader's locale, through :func:`format_number`: the format
  spec of its field says the digits (``{accuracy:.4f}``, ``{count:,}``, ``{seconds:g}``), Babel the
  symbols (English ``5,000`` and ``0.3281``, French ``5 000`` and ``0,3281``);
- another :class:`Text` in the same language (a hint inside a hint);
- anything else as ``str()``: code, shapes, names and the student's own messages, never translated
  (escape them for the terminal before: :func:`drlab.check.report.printable`).

The conversion ``!c`` capitalises a value's first letter (French starts a sentence with a cell's
name: "La cellule de code 3 …", where English does not).

French typography is applied to the catalogue's own words when a French message is rendered
(:func:`french_spacing`): a no-break space before ":" and inside « », a narrow no-break space before
";", "?" and "!" — never inside `code` and never in a value (the student's words are quoted as they are).

No torch here: the report (:mod:`drlab.check.report`) renders without it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from drlab.check.messages import en, fr

Lang = Literal["en", "fr"]
LANGS: tuple[Lang, ...] = ("en", "fr")
CATALOGUE: dict[str, Mapping[str, str]] = {"en": en.MESSAGES, "fr": fr.MESSAGES}
#: the format specs a number's field may carry: grouping, digits after the point, fixed or general
_NUMBER_SPEC = re.compile(r"^(?P<group>,)?(?:\.(?P<digits>\d+))?(?P<type>[fgd]?)$")
#: French spacing (Imprimerie nationale): the space before ":" and inside « » does not break, the one
#: before ";", "?" and "!" is a narrow no-break space (as Babel's grouping of French numbers)
_FRENCH_SPACES = (
    (re.compile(r"[ \u00a0\u202f]([:])"), "\u00a0\\1"),
    (re.compile(r"[ \u00a0\u202f]([;?!])"), "\u202f\\1"),
    (re.compile(r"«[ \u00a0\u202f]"), "«\u00a0"),
    (re.compile(r"[ \u00a0\u202f]»"), "\u00a0»"),
)


def format_number(value: float, spec: str, lang: str) -> str:
    """``value`` formatted by ``spec`` (Python's: ``.4f``, ``,``, ``g``, ``.2g``…) in ``lang``'s locale.

    Python chooses the digits (so English reads exactly as ``format(value, spec)``), Babel writes them
    with the locale's decimal and grouping symbols. The one rule for every number the grader shows.
    """
    from babel.numbers import format_decimal

    match = _NUMBER_SPEC.match(spec)
    if match is None:
        raise ValueError(f"unsupported number format {spec!r}")
    digits = format(value, spec.replace(",", ""))
    if not re.fullmatch(r"-?\d+(\.\d+)?(e[-+]\d+)?", digits):
        return digits  # inf, nan
    mantissa, _, exponent = digits.partition("e")
    decimals = len(mantissa.partition(".")[2])
    pattern = ("#,##0" if match["group"] else "0") + ("." + "0" * decimals if decimals else "")
    shown = format_decimal(Decimal(mantissa), format=pattern, locale=lang)
    return shown + (f"e{exponent}" if exponent else "")


def french_spacing(template: str) -> str:
    """``template`` with French spaces before ``: ; ? !`` and inside « », outside its `code` spans."""
    parts = template.split("`")
    for index in range(0, len(parts), 2):  # the even parts are outside `…`
        for pattern, space in _FRENCH_SPACES:
            parts[index] = pattern.sub(space, parts[index])
    return "`".join(parts)


def format_percent(fraction: float, lang: str) -> str:
    """A fraction as a whole percentage in ``lang``'s locale (Babel's: "87%", French "87 %")."""
    from babel.numbers import format_percent as babel_percent

    return babel_percent(Decimal(round(100 * fraction)) / 100, locale=lang if lang in CATALOGUE else "en")


class _Formatter(string.Formatter):
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Text):
            return value.render(self.lang)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return format_number(value, format_spec, self.lang)
        return format(value, format_spec)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "c":
            shown = value.render(self.lang) if isinstance(value, Text) else str(value)
            return shown[:1].upper() + shown[1:]
        return super().convert_field(value, conversion)


@dataclass(frozen=True)
class Text:
    """A message by its key, with its values: rendered in a language only when shown."""

    key: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        """The message in ``lang`` ("en" or "fr"; any other language reads English)."""
        table = CATALOGUE.get(lang, CATALOGUE["en"])
        template = french_spacing(table[self.key]) if lang == "fr" else table[self.key]
        return _Formatter(lang if lang in CATALOGUE else "en").vformat(template, (), self.fields)


def text(key: str, **fields: Any) -> Text:
    """The message ``key`` of the catalogue with its ``fields``, to render later."""
    if key not in en.MESSAGES:
        raise KeyError(f"no message {key!r} in the catalogue")
    return Text(key, fields)


def say(lang: str, key: str, **fields: Any) -> str:
    """The message ``key`` in ``lang``, now."""
    return text(key, **fields).render(lang)


def fields_of(template: str) -> set[tuple[str, str]]:
    """The ``(name, format spec)`` of every field of a template (what both languages must agree on)."""
    return {(name, spec or "") for _, name, spec, _ in string.Formatter().parse(template) if name is not None}


__all__ = [
    "CATALOGUE",
    "LANGS",
    "Lang",
    "Text",
    "fields_of",
    "format_number",
    "format_percent",
    "french_spacing",
    "say",
    "text",
]
