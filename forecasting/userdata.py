"""A user's own data: daily admission counts, and inpatient records in any CSV layout.

Both come out in the shapes the built-in history has (`synthetic.SyntheticHistory.daily` and
normalised records), so every forecaster and LOS model runs on them unchanged. Errors follow
the SPARCS loader's standard: a bad value is named with the file, its spreadsheet row
(header = row 1) and column; a missing column is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.records import RECORD_DTYPES
from forecasting.sparcs import (
    DERIVED,
    DataError,
    LoadedRecords,
    check_csv_text,
    header_key,
    normalise_table,
    read_header,
    read_strings,
)

COUNT_COLUMNS = ("admissions", "count")
TOTAL_UNIT = "total"


def _column(frame: pd.DataFrame, names: tuple[str, ...], path: Path) -> str | None:
    """The frame's header matching one of `names` (case/space-insensitive); two is ambiguous."""
    found = [c for c in frame.columns if header_key(c) in names]
    if len(found) > 1:
        raise DataError(f"ambiguous: columns {found} could each be {' / '.join(names)}",
                        path=str(path))
    return found[0] if found else None


def _first_bad(bad: np.ndarray, frame: pd.DataFrame, column: str, expected: str, path: Path
               ) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"cannot parse {frame[column].iloc[i]!r}: expected {expected}",
                        path=str(path), row=i + 2, column=column)


def load_admissions(path: str | Path) -> pd.DataFrame:
    """CSV of `date` (ISO), optional `unit` and `admissions` or `count` -> date, unit, admissions.

    One row per date and unit (a repeat is an error: summing could double-count). A count
    export leaves out empty days, so each unit's missing days between its first and last date
    count as 0; without a unit column every row belongs to unit 'total'.
    """
    path = Path(path)
    check_csv_text(path)  # also: not found
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty: expected a header row", path=str(path)) from None
    except (UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"not a readable UTF-8 CSV file ({error})", path=str(path)) from None
    date = _column(frame, ("date",), path)
    count = _column(frame, COUNT_COLUMNS, path)
    unit = _column(frame, ("unit",), path)
    for found, name, accepted in ((date, "date", "'date'"),
                                  (count, "admissions", "'admissions' or 'count'")):
        if found is None:
            raise DataError(f"missing column {accepted}; the file has {list(frame.columns)}",
                            path=str(path), column=name)
    if frame.empty:
        raise DataError("no data rows", path=str(path))

    dates = pd.to_datetime(frame[date].str.strip(), format="ISO8601", errors="coerce")
    _first_bad(dates.isna().to_numpy(), frame, date, "an ISO date (YYYY-MM-DD)", path)
    counts = pd.to_numeric(frame[count].str.strip(), errors="coerce")
    bad = (counts.isna() | (counts < 0) | (counts % 1 != 0)).to_numpy()
    _first_bad(bad, frame, count, "a whole number >= 0", path)
    units = frame[unit].str.strip() if unit else pd.Series(TOTAL_UNIT, index=frame.index)
    _first_bad((units == "").to_numpy(), frame, unit or "unit", "a unit name", path)

    daily = pd.DataFrame({"date": dates.dt.normalize().astype("datetime64[ns]"), "unit": units,
                          "admissions": counts.astype(np.int64)})
    repeat = daily.duplicated(["date", "unit"]).to_numpy()
    if repeat.any():
        again = int(np.flatnonzero(repeat)[0])
        day, name = daily["date"].iloc[again], daily["unit"].iloc[again]
        first = int(np.flatnonzero((daily["date"] == day) & (daily["unit"] == name))[0])
        raise DataError(f"{day:%Y-%m-%d} / {name} repeats row {first + 2}; give one row per "
                        "date and unit", path=str(path), row=again + 2)

    order = list(dict.fromkeys(daily["unit"]))
    filled = [
        part.set_index("date")["admissions"]
        .reindex(pd.date_range(part["date"].min(), part["date"].max(), freq="D", unit="ns"),
                 fill_value=0)
        .rename_axis("date").reset_index().assign(unit=name)
        for name, part in daily.groupby("unit", sort=False)
    ]
    out = pd.concat(filled, ignore_index=True)
    out["unit"] = pd.Categorical(out["unit"], categories=order)
    return out.sort_values(["date", "unit"], ignore_index=True)[["date", "unit", "admissions"]]


def load_inpatient(path: str | Path, mapping: Mapping[str, str]) -> LoadedRecords:
    """A generic inpatient CSV -> normalised records, `mapping` naming (normalised column ->
    the file's header) where each record column is.

    length_of_stay must be mapped; every mapped column must exist. Unmapped columns come out
    missing (the bool ones False); diagnosis_group is derived from apr_mdc when only that is
    mapped. Values are read as in SPARCS (see `forecasting.sparcs`) plus natural spellings:
    ages in years, severity and risk as Minor..Extreme or 1-4, yes/no flags. Rows with no
    usable length of stay, severity or age group are dropped and counted, as for SPARCS.
    """
    path = Path(path)
    mappable = [c for c in RECORD_DTYPES if c not in DERIVED or c == "diagnosis_group"]
    unknown = [name for name in mapping if name not in mappable]
    if unknown:
        raise ValueError(f"cannot map {unknown}: mappable record columns are {mappable}")
    if "length_of_stay" not in mapping:
        raise ValueError("the mapping must name the file's length_of_stay column")
    header = read_header(path)
    present = {header_key(h): h for h in header}
    sources = {}
    for name, column in mapping.items():
        if header_key(column) not in present:
            raise DataError(f"missing column {column!r} (mapped to {name}); the file has "
                            f"{header}", path=str(path), column=column)
        sources[name] = present[header_key(column)]
    table = read_strings(path, header, list(dict.fromkeys(sources.values())))
    return normalise_table(table, sources, list(RECORD_DTYPES), str(path))


__all__ = ["COUNT_COLUMNS", "TOTAL_UNIT", "load_admissions", "load_inpatient"]
