"""French typography, one rule for every French text drlab ships (the docs' French pages, the French notebooks).

A French text puts a no-break space before the colon (U+00A0) and a narrow no-break space before ; ? !
(U+202F), never an ordinary one (which a browser or Jupyter may wrap to the start of the next line), and
never glues a colon to its word. Code (fenced blocks, inline spans) and LaTeX math are not prose.
"""

from __future__ import annotations

import re

ALLOWED = ("\u00a0:", "\u202f;", "\u202f?", "\u202f!")


def prose(text: str) -> str:
    """``text`` without its code (fenced blocks, inline code spans) and its LaTeX math (``$…$``, ``$$…$$``)."""
    text = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def french_typography_problems(text: str) -> list[str]:
    """What breaks the rule in the prose of ``text``: each offending space-and-sign, each glued colon."""
    text = prose(text)
    spaces = [m.group(0) for m in re.finditer(r"[ \u00a0\u202f][:;?!]", text) if m.group(0) not in ALLOWED]
    glued = re.findall(r"[a-zàâçéèêëîïôûù]:(?= )", text)
    return [f"ordinary space before {s[-1]!r}" for s in spaces] + [f"colon glued to {g!r}" for g in glued]
