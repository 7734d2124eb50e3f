"""The report: what a study's results folder says, for people.

`comparison` writes `report.html` and `summary.md` from a `hospsim run` folder, `stress`
the stress test's `stress.html`; both draw with `figures` and read the study's stored tables
and statistics (`experiments.study`), never run anything. `breakeven` and `sensitivity` are
the report's cost views. `TEMPLATES` is the jinja2 environment of `templates/`.
"""

import jinja2

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("experiments.report", "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined,
)
