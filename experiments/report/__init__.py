"""The report: what a study's results folder says, for people.

`comparison` writes `report.html` and `summary.md` from a `hospsim run` folder, `stress`
the stress test's `stress.html`; both draw with `figures` and read the study's stored tables
and statistics (`experiments.study`), never run anything. `breakeven` and `sensitivity` are
the report's cost views. `TEMPLATES` is the jinja2 environment of `templates/`.
"""

import html
import re

import jinja2

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("experiments.report", "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined,
)

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")
"""Markdown's inline markup: emphasis, code, links and images, table cells, strikethrough."""


def markdown_text(text: object) -> str:
    """A user's text (a scenario name, a policy label) as literal Markdown: HTML characters
    as entities and Markdown punctuation backslash-escaped, so `<script>` or `![](url)` in
    a name reads as those characters in `summary.md`, never as markup or a fetched image."""
    flat = " ".join(str(text).split())  # a newline would end a table row or start a block
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))
