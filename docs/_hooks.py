"""mkdocs hook: the "Deep RL" section lists every ``docs/rl/*.md`` page, in the order of the course.

One page per algorithm lands in ``docs/rl/`` as the course grows (REINFORCE, A2C, PPO after DQN); the
navigation follows without an edit to ``mkdocs.yml``. Pages are ordered as the lectures come
(:data:`COURSE_ORDER`), any other after them by name. The hook runs with every ``mkdocs build`` and
``mkdocs serve``; ``tests/test_docs.py`` applies the same function to check the site's navigation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECTION = "rl/index.md"
COURSE_ORDER = ("qlearning", "dqn", "reinforce", "a2c", "ppo")


def algorithm_pages(docs_dir: Path) -> list[str]:
    """``rl/NAME.md`` for each page in ``docs_dir/rl`` but the index, in the course's order."""
    names = [path.stem for path in (docs_dir / "rl").glob("*.md") if path.stem != "index"]
    known = [name for name in COURSE_ORDER if name in names]
    return [f"rl/{name}.md" for name in known + sorted(set(names) - set(known))]


def with_algorithm_pages(nav: list[Any], docs_dir: Path) -> list[Any]:
    """``nav`` with the algorithm pages added to the section that holds :data:`SECTION`."""
    out: list[Any] = []
    for entry in nav:
        if isinstance(entry, dict):
            entry = {title: _fill(pages, docs_dir) for title, pages in entry.items()}
        out.append(entry)
    return out


def _fill(pages: Any, docs_dir: Path) -> Any:
    if not isinstance(pages, list):
        return pages
    if SECTION not in pages:
        return with_algorithm_pages(pages, docs_dir)
    listed = {page for page in pages if isinstance(page, str)}
    return [*pages, *(page for page in algorithm_pages(docs_dir) if page not in listed)]


def on_config(config: Any) -> Any:
    config["nav"] = with_algorithm_pages(config["nav"], Path(config["docs_dir"]))
    return config
