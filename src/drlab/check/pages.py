"""The HTML pages of a grading (the class report, each student's feedback page): one skeleton, one escape.

Pages are self-contained: no script, no network (a Content-Security-Policy that allows none, pictures
inlined as ``data:`` URIs), styles inline. Everything that comes from a notebook or a zip (a name, an
output, an error message, a hint quoting them) goes through :func:`esc`; the templates hold only our words.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

#: no script may run and nothing may be fetched: a page that shows a student's text can only show it
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#fff;
margin:0 auto;max-width:68rem;padding:1.5rem 2rem 3rem}
h1{font-size:1.55rem;margin:.2rem 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #dde}
p.sub{color:#556;margin:.1rem 0 1rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{text-align:left;padding:.3rem .55rem;border-bottom:1px solid #e4e6ee;vertical-align:top}
th{background:#f3f4f8;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17803d;font-weight:700}.ko{color:#c0262d;font-weight:700}
.hint{color:#333;margin:.15rem 0 .35rem 1.6rem;white-space:pre-wrap;overflow-wrap:anywhere}
.note{background:#fff8e6;border-left:4px solid #e0a100;padding:.5rem .8rem;margin:.6rem 0}
.score{font-size:2.2rem;font-weight:700;margin:.3rem 0}
.bar{display:inline-block;height:.8rem;background:#4a78c2;vertical-align:middle;border-radius:2px}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #eee}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
li{margin:.2rem 0}.muted{color:#667}
"""


def esc(text: object) -> str:
    """``text`` safe between HTML tags and inside quoted attributes: ``& < > " '`` escaped."""
    return html.escape(str(text), quote=True)


def page(title: str, lang: str, body: str) -> str:
    """A whole page around ``body`` (already HTML); ``title`` is escaped here."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def png_data_uri(path: Path) -> str:
    """A PNG as a ``data:`` URI, so the page shows it without fetching anything."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


__all__ = ["CSP", "esc", "page", "png_data_uri"]
