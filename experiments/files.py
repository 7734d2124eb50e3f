"""Writing files safely, for every part of `experiments`: whole or not at all, never
through a symlink, and CSV cells a spreadsheet cannot run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from scenarios.schema import FORMULA_START


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell (and column name) that starts like a formula prefixed by
    a quote, as OWASP advises; numbers are left alone (a negative number is not a formula)."""

    def cell(value: object) -> object:
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value

    safe = frame.rename(columns=cell)  # a copy
    for column in safe.columns:
        series = safe[column]
        if not (pd.api.types.is_numeric_dtype(series)
                or pd.api.types.is_datetime64_any_dtype(series)):
            safe[column] = series.astype(object).map(cell)
    return safe


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary name to write `path` under, renamed over it when the block succeeds: a
    reader (or a kill) never meets half a file, and a symlink at `path` is replaced, not
    written through."""
    partial = path.with_name(f".{path.name}.partial")  # readers of the folder skip dot-files
    partial.unlink(missing_ok=True)
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
