"""New York SPARCS Hospital Inpatient Discharges (de-identified) CSV -> normalised records.

Any release 2015-2024 loads: headers are matched ignoring case and runs of spaces, and where
releases renamed a column every spelling below is accepted. Only the columns the normalised
record needs are read (pyarrow, as strings); each distinct value is parsed once and broadcast,
so a 2.35M-row release loads in seconds.

| normalised column    | SPARCS header (variants accepted)        | parsing                      |
| -------------------- | ---------------------------------------- | ---------------------------- |
| facility_id          | Facility Id / Permanent Facility Id      | text                         |
| age_group            | Age Group                                | 0 to 17 ... 70 or Older      |
| sex                  | Gender                                   | M / F / U (blank -> U)       |
| race, ethnicity      | Race, Ethnicity                          | text                         |
| length_of_stay       | Length of Stay                           | 1-119; '120 +' -> 120        |
| los_top_coded        | (from Length of Stay)                    | True for '120 +'             |
| admission_type       | Type of Admission                        | blank -> Not Available       |
| ed_indicator         | Emergency Department Indicator           | Y / N (blank -> N)           |
| patient_disposition  | Patient Disposition                      | text                         |
| diagnosis_code       | CCS Diagnosis Code / CCSR Diagnosis Code | text, as given               |
| apr_mdc              | APR MDC Code                             | integer 0-25                 |
| diagnosis_group      | (from APR MDC Code, records.MDC_GROUPS)  | other MDCs -> 'other'        |
| severity             | APR Severity of Illness Code             | 1-4                          |
| risk_of_mortality    | APR Risk of Mortality                    | Minor..Extreme -> 1-4        |
| surgical             | APR Medical Surgical Description         | Surgical -> True             |
| payer                | Payment Typology 1                       | text                         |
| birth_weight         | Birth Weight                             | grams ('03100'); 0/UNKN: NaN |
| total_charges, _costs| Total Charges, Total Costs               | number; '$' and ',' allowed  |
| discharge_year       | Discharge Year                           | integer                      |
| admission_date       | Admission Date (hospsim extension)       | ISO date; optional           |
| unit                 | Unit (hospsim extension)                 | text; optional               |

Other columns (Health/Hospital Service Area, Zip Code - 3 digits / Zip Code, Abortion Edit
Indicator, descriptions, licence numbers, ...) are never read, so their presence and spelling
do not matter.

Rows no model can use are dropped and counted by the first reason that applies, in this
order: Length of Stay 'UNKN' or blank, APR Severity of Illness Code 0 or blank, Age Group
blank or unknown. Any other value that does not parse raises `DataError` naming the file, the
row as a spreadsheet shows it (header = row 1) and the column: a malformed file is never
silently half-loaded. Blank optional values become missing.

The column parsing is shared with `forecasting.userdata`, whose generic files accept the same
values plus a few natural spellings (ages in years, severity names, yes/no).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from forecasting.records import (
    ADMISSION_TYPES_SEEN,
    AGE_GROUPS,
    MDC_GROUPS,
    RECORD_DTYPES,
    RISK_OF_MORTALITY,
    SEXES,
)

DIAGNOSIS_GROUPS = (*dict.fromkeys(MDC_GROUPS.values()), "other")

SPARCS_HEADERS: dict[str, tuple[str, ...]] = {
    "facility_id": ("Facility Id", "Permanent Facility Id"),
    "age_group": ("Age Group",),
    "sex": ("Gender",),
    "race": ("Race",),
    "ethnicity": ("Ethnicity",),
    "length_of_stay": ("Length of Stay",),
    "admission_type": ("Type of Admission",),
    "ed_indicator": ("Emergency Department Indicator",),
    "patient_disposition": ("Patient Disposition",),
    "diagnosis_code": ("CCS Diagnosis Code", "CCSR Diagnosis Code"),
    "apr_mdc": ("APR MDC Code",),
    "severity": ("APR Severity of Illness Code",),
    "risk_of_mortality": ("APR Risk of Mortality",),
    "surgical": ("APR Medical Surgical Description",),
    "payer": ("Payment Typology 1",),
    "birth_weight": ("Birth Weight",),
    "total_charges": ("Total Charges",),
    "total_costs": ("Total Costs",),
    "discharge_year": ("Discharge Year",),
}
"""Normalised column -> the SPARCS header spellings of its source, first = 2015's."""

EXTENSION_HEADERS: dict[str, tuple[str, ...]] = {
    "admission_date": ("Admission Date",),
    "unit": ("Unit",),
}
"""Optional columns only hospsim's synthetic history (and users' extracts) carry."""

DERIVED = {"los_top_coded": "length_of_stay", "diagnosis_group": "apr_mdc"}
"""Normalised columns computed from another one's source rather than read themselves."""

DROP_REASONS = {
    "length_of_stay": "length_of_stay unknown",
    "severity": "severity 0 or blank",
    "age_group": "age_group unknown",
}
"""Columns whose missing value makes a row unusable -> the reason reported, in priority order."""

_MONEY = ("total_charges", "total_costs")  # nearly unique per row: arrow parses them vectorised
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_TOP_CODED = re.compile(r"^(\d+(?:\.\d*)?)\s*\+$")
_UNKNOWN = {"", "unkn", "unknown", "not available", "na", "n/a"}
_SEVERITY = {name.casefold(): code for name, code in RISK_OF_MORTALITY.items()}


class DataError(ValueError):
    """A data file the loader cannot use, located to the file, 1-based row and column."""

    def __init__(
        self, message: str, *, path: str | None = None, row: int | None = None,
        column: str | None = None,
    ):
        where = [part for part in (
            path,
            f"row {row}" if row is not None else None,
            f"column {column!r}" if column is not None else None,
        ) if part]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.path, self.row, self.column = path, row, column


@dataclass(frozen=True)
class LoadedRecords:
    """Normalised records plus what was dropped and why, so a report can say so."""

    records: pd.DataFrame
    dropped: dict[str, int]
    rows_read: int


# --- one raw value -> normalised value (None = missing); ValueError(expected) if malformed ---

def _text(value: str) -> str | None:
    return value or None


def _number(value: str) -> float:
    if not _NUMBER.match(value):
        raise ValueError("a number")
    return float(value)


def _integer(value: str) -> int | None:
    if value.casefold() in _UNKNOWN:
        return None
    number = _number(value)
    if number != int(number):
        raise ValueError("a whole number")
    return int(number)


def _length_of_stay(value: str) -> float | None:
    if value.casefold() in _UNKNOWN:
        return None
    top = _TOP_CODED.match(value)
    days = top.group(1) if top else value
    if not _NUMBER.match(days) or float(days) < 0:
        raise ValueError("a number of days >= 0, '120 +' or 'UNKN'")
    return float(days)


def _age_group(value: str) -> str | None:
    folded = value.casefold()
    for group in AGE_GROUPS:
        if folded == group.casefold():
            return group
    if folded in _UNKNOWN:
        return None
    if _NUMBER.match(value) and 0 <= float(value) < 150:
        bounds = (18, 30, 50, 70)
        return AGE_GROUPS[sum(float(value) >= bound for bound in bounds)]
    raise ValueError(f"an age group ({', '.join(AGE_GROUPS)}) or an age in years")


def _choice(
    options: Sequence[str], blank: str | None, aliases: Mapping[str, str] | None = None
) -> Callable[[str], str | None]:
    folded = {option.casefold(): option for option in options} | dict(aliases or {})

    def parse(value: str) -> str | None:
        if not value:
            return blank
        if value.casefold() not in folded:
            raise ValueError(f"one of {', '.join(options)}")
        return folded[value.casefold()]

    return parse


def _ordinal(value: str) -> int | None:
    """1-4 as a code or as the APR name (Minor..Extreme); 0 (ungroupable) is missing."""
    if value.casefold() in _SEVERITY:
        return _SEVERITY[value.casefold()]
    code = _integer(value)
    if code not in (None, 0, 1, 2, 3, 4):
        raise ValueError("1-4 or Minor / Moderate / Major / Extreme")
    return code or None


def _flag(true: Iterable[str], false: Iterable[str]) -> Callable[[str], bool]:
    truthy = {v.casefold() for v in true}
    falsy = {v.casefold() for v in false} | {""}

    def parse(value: str) -> bool:
        if value.casefold() in truthy:
            return True
        if value.casefold() in falsy:
            return False
        raise ValueError(f"one of {', '.join(sorted(truthy | falsy - {''}))} or blank")

    return parse


def _mdc(value: str) -> int | None:
    code = _integer(value)
    if code is not None and not 0 <= code <= 25:
        raise ValueError("an APR MDC code 0-25")
    return code


def _birth_weight(value: str) -> float:
    grams = 0.0 if value.casefold() in _UNKNOWN else _number(value)
    return grams if grams > 0 else np.nan


def _year(value: str) -> int | None:
    year = _integer(value)
    if year is not None and not 1900 <= year <= 2100:
        raise ValueError("a year")
    return year


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO date (YYYY-MM-DD)") from None
    return dt.datetime(stamp.year, stamp.month, stamp.day)


_YES, _NO = ("Y", "Yes", "True", "1"), ("N", "No", "False", "0")

PARSERS: dict[str, Callable[[str], Any]] = {
    "facility_id": _text,
    "age_group": _age_group,
    "sex": _choice(SEXES, "U", {"male": "M", "female": "F", "unknown": "U"}),
    "race": _text,
    "ethnicity": _text,
    "length_of_stay": _length_of_stay,
    "admission_type": _choice(ADMISSION_TYPES_SEEN, "Not Available"),
    "ed_indicator": _flag(_YES, _NO),
    "patient_disposition": _text,
    "diagnosis_code": _text,
    "apr_mdc": _mdc,
    "diagnosis_group": _choice(DIAGNOSIS_GROUPS, None),
    "severity": _ordinal,
    "risk_of_mortality": _ordinal,
    "surgical": _flag(("Surgical", *_YES), ("Medical", "Not Applicable", *_NO)),
    "payer": _text,
    "birth_weight": _birth_weight,
    "discharge_year": _year,
    "admission_date": _date,
    "unit": _text,
}
"""How each read column's distinct raw values (stripped) become normalised values."""

CATEGORIES: dict[str, Sequence[str]] = {
    "age_group": AGE_GROUPS,
    "sex": SEXES,
    "admission_type": ADMISSION_TYPES_SEEN,
    "diagnosis_group": DIAGNOSIS_GROUPS,
}
"""The closed categoricals; every other categorical takes its categories from the data."""


# --- a raw table of strings -> the normalised frame ---

@dataclass(frozen=True)
class _Raw:
    """One raw column as its distinct stripped values and each row's index into them."""

    header: str
    values: list[str]
    codes: np.ndarray

    @classmethod
    def of(cls, header: str, column: pa.ChunkedArray) -> _Raw:
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        series = column.to_pandas()
        values = [str(v).strip() for v in series.cat.categories]
        codes = series.cat.codes.to_numpy()
        if (codes < 0).any():  # arrow nulls: same as blank
            codes = np.where(codes < 0, len(values), codes)
            values.append("")
        return cls(header, values, codes)


def _parse(raw: _Raw, parse: Callable[[str], Any], where: str) -> list[Any]:
    """Parse each distinct value once; a bad one is reported at its first row in the file."""
    parsed, bad = [], {}
    for i, value in enumerate(raw.values):
        try:
            parsed.append(parse(value))
        except ValueError as err:
            parsed.append(None)
            bad[i] = (value, str(err))
    if bad:
        first = int(np.flatnonzero(np.isin(raw.codes, list(bad)))[0])
        value, expected = bad[int(raw.codes[first])]
        raise DataError(f"cannot parse {value!r}: expected {expected}", path=where,
                        row=first + 2, column=raw.header)
    return parsed


def _build(name: str, parsed: list[Any], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Broadcast parsed distinct values to rows in the column's RECORD_DTYPES dtype."""
    dtype = RECORD_DTYPES[name]
    if dtype == "category":
        categories = list(CATEGORIES.get(name) or sorted({v for v in parsed if v is not None}))
        index = {c: i for i, c in enumerate(categories)}
        lookup = np.array([-1 if v is None else index[v] for v in parsed], dtype=np.int32)
        return pd.Categorical.from_codes(lookup[codes], categories=categories)
    if dtype in ("Int8", "Int16"):
        missing = np.array([v is None for v in parsed])
        numbers = np.array([0 if v is None else v for v in parsed], dtype=dtype.lower())
        return pd.arrays.IntegerArray(numbers[codes], missing[codes])
    if dtype == "string":
        return pd.array(np.array(parsed, dtype=object)[codes], dtype="string")
    if dtype == "datetime64[ns]":
        stamps = np.array([np.datetime64("NaT") if v is None else v for v in parsed],
                          dtype="datetime64[ns]")
        return pd.array(stamps[codes])
    fill = np.nan if dtype == "float64" else False
    return np.array([fill if v is None else v for v in parsed], dtype=dtype)[codes]


def _money(column: pa.ChunkedArray, header: str, where: str) -> np.ndarray:
    """Amounts as plain numbers, or with '$' and thousands commas (later releases)."""
    clean = pc.utf8_trim_whitespace(
        pc.replace_substring(pc.replace_substring(column, "$", ""), ",", "")
    )
    ok = pc.or_(pc.equal(clean, ""), pc.match_substring_regex(clean, _NUMBER.pattern))
    if not pc.all(ok).as_py():
        first = pc.index(ok, False).as_py()
        raise DataError(f"cannot parse {column[first].as_py()!r}: expected an amount",
                        path=where, row=first + 2, column=header)
    numbers = pc.cast(pc.if_else(pc.equal(clean, ""), None, clean), pa.float64())
    return numbers.to_numpy()


def _missing(name: str, rows: int) -> Any:
    """A column with no source: all missing (bool columns, which cannot be, are False)."""
    dtype = RECORD_DTYPES[name]
    if dtype == "category":
        return pd.Categorical.from_codes(np.full(rows, -1), categories=CATEGORIES.get(name, []))
    if dtype in ("Int8", "Int16"):
        return pd.arrays.IntegerArray(np.zeros(rows, dtype.lower()), np.ones(rows, bool))
    if dtype == "string":
        return pd.array(np.full(rows, None, dtype=object), dtype="string")
    return np.full(rows, {"bool": False, "float64": np.nan}.get(dtype, "NaT"), dtype=dtype)


def normalise_table(
    table: pa.Table, sources: Mapping[str, str], columns: Sequence[str], where: str
) -> LoadedRecords:
    """Raw string columns (`sources`: normalised name -> header in `table`) -> records.

    `columns` are the normalised columns to return (RECORD_DTYPES order is kept); those with
    no source and no derivation come out missing. Drop rules apply to whichever of
    DROP_REASONS' columns have a source, on every row; unparseable values raise DataError.
    """
    rows = table.num_rows
    raws = {name: _Raw.of(header, table.column(header))
            for name, header in sources.items() if name not in _MONEY}
    parsed = {name: _parse(raw, PARSERS[name], where) for name, raw in raws.items()}

    unusable = np.zeros(rows, dtype=bool)
    dropped = {}
    for name, reason in DROP_REASONS.items():
        hit = np.zeros(rows, dtype=bool)
        if name in parsed:
            hit = np.array([v is None for v in parsed[name]])[raws[name].codes] & ~unusable
        dropped[reason] = int(hit.sum())
        unusable |= hit
    keep = ~unusable

    out: dict[str, Any] = {}
    for name in (c for c in RECORD_DTYPES if c in columns):
        source = DERIVED.get(name, name)
        if name == "diagnosis_group" and "diagnosis_group" in parsed:
            source = name
        if name in _MONEY and name in sources:
            out[name] = _money(table.column(sources[name]), sources[name], where)[keep]
        elif source in parsed:
            codes = raws[source].codes[keep]
            values = parsed[source]
            if name == "los_top_coded":
                values = [bool(_TOP_CODED.match(v)) for v in raws[source].values]
            elif name == "diagnosis_group" and source == "apr_mdc":
                values = [None if v is None else MDC_GROUPS.get(v, "other") for v in values]
            out[name] = _build(name, values, codes)
        else:
            out[name] = _missing(name, int(keep.sum()))
    return LoadedRecords(pd.DataFrame(out), dropped, rows)


# --- reading files ---

def header_key(header: str) -> str:
    """How headers are compared: case and runs of whitespace do not matter."""
    return " ".join(header.split()).casefold()


NOT_CSV_TEXT = {
    b"\x1f\x8b": ("gzip-compressed", "name it .csv.gz or decompress it"),
    b"BZh": ("bzip2-compressed", "name it .csv.bz2 or decompress it"),
    b"PK\x03\x04": ("a zip archive", "unzip it first"),
    b"\xfd7zXZ\x00": ("xz-compressed", "decompress it first"),
    b"\xff\xfe": ("UTF-16 text", "save it as UTF-8 CSV"),
    b"\xfe\xff": ("UTF-16 text", "save it as UTF-8 CSV"),
    b"PAR1": ("a Parquet file", "export it as CSV"),
}
"""First bytes of files mistaken for CSV text, which would otherwise read as one garbled
column ("missing column ..."), with what to do about each."""


def check_csv_text(path: Path) -> None:
    """Refuse, by its first bytes, a file that is not CSV text (compressed data is fine
    when its name says so: .gz, .bz2)."""
    if path.suffix in (".gz", ".bz2"):
        return
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except FileNotFoundError:
        raise DataError("file not found", path=str(path)) from None
    for magic, (kind, fix) in NOT_CSV_TEXT.items():
        if head.startswith(magic):
            raise DataError(f"this is {kind}, not UTF-8 CSV text: {fix}", path=str(path))


def read_header(path: Path) -> list[str]:
    """The first CSV record (a UTF-8 byte-order mark is dropped); gzip/bz2 by extension."""
    check_csv_text(path)
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 16).decode("utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise DataError("file not found", path=str(path)) from None
    row = next(csv.reader(io.StringIO(head.splitlines()[0] if head else "")), None)
    if not row:
        raise DataError("the file is empty: expected a header row", path=str(path))
    return row


def read_strings(path: Path, header: list[str], include: Sequence[str]) -> pa.Table:
    """Only the `include` columns, every value as text (blank = ''), multi-threaded.

    Plain strings, dictionary-encoded afterwards, read faster than arrow's dictionary columns,
    and 4 MB blocks keep both cores busy (measured on a 1 GB release-sized file)."""
    try:
        return pv.read_csv(
            str(path),
            read_options=pv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 22),
            convert_options=pv.ConvertOptions(
                include_columns=list(include),
                column_types=dict.fromkeys(include, pa.string()),
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        raise DataError(f"not a readable CSV file: {err}", path=str(path)) from None


def _resolve(header: list[str], wanted: Iterable[str], path: Path) -> dict[str, str]:
    """Normalised name -> the file's header for each SPARCS column needed; missing raises."""
    present = {header_key(h): h for h in header}
    sources = {}
    for name in wanted:
        variants = SPARCS_HEADERS.get(name) or EXTENSION_HEADERS[name]
        found = [present[header_key(v)] for v in variants if header_key(v) in present]
        if found:
            sources[name] = found[0]
        elif name in SPARCS_HEADERS:
            accepted = " or ".join(repr(v) for v in variants)
            raise DataError(f"missing column {variants[0]!r} (needed for {name}); "
                            f"accepted headers: {accepted}", path=str(path), column=variants[0])
    return sources


def _sources_for(columns: Sequence[str]) -> list[str]:
    """Source columns to read for `columns`, plus the drop-rule columns (always applied)."""
    needed = dict.fromkeys(DERIVED.get(c, c) for c in columns)
    return list(dict.fromkeys([*DROP_REASONS, *needed]))


def _columns(usecols: Iterable[str] | None) -> list[str]:
    if usecols is None:
        return list(RECORD_DTYPES)
    columns = list(usecols)
    unknown = [c for c in columns if c not in RECORD_DTYPES]
    if unknown:
        raise ValueError(f"unknown record columns {unknown}; choose from {list(RECORD_DTYPES)}")
    return columns


def load_sparcs(path: str | Path, *, usecols: Iterable[str] | None = None) -> LoadedRecords:
    """Load a SPARCS inpatient discharges CSV (optionally .gz) as normalised records.

    `usecols` names the normalised columns wanted (default: all of RECORD_DTYPES); only their
    sources are read, which saves time and memory on a full release. The drop rules always
    apply, so every `usecols` gives the same rows.
    """
    path = Path(path)
    columns = _columns(usecols)
    header = read_header(path)
    sources = _resolve(header, _sources_for(columns), path)
    table = read_strings(path, header, list(sources.values()))
    return normalise_table(table, sources, columns, str(path))


def normalise_sparcs(frame: pd.DataFrame, *, where: str = "<frame>",
                     usecols: Iterable[str] | None = None) -> LoadedRecords:
    """The in-memory twin of `load_sparcs`: a frame with SPARCS headers, values formatted
    as in the CSV (or plain numbers), gives the records its CSV would."""
    columns = _columns(usecols)
    header = [str(c) for c in frame.columns]
    sources = _resolve(header, _sources_for(columns), Path(where))
    table = pa.table({
        h: pa.array(frame[h].astype("string").fillna("").to_numpy(dtype=object), pa.string())
        for h in dict.fromkeys(sources.values())
    })
    return normalise_table(table, sources, columns, where)


__all__ = [
    "DERIVED", "DIAGNOSIS_GROUPS", "DROP_REASONS", "EXTENSION_HEADERS", "SPARCS_HEADERS",
    "DataError", "LoadedRecords", "load_sparcs", "normalise_sparcs", "normalise_table",
]
