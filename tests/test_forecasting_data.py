"""The data layer: SPARCS loader, synthetic history and user files, down to row-level errors."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import synthetic
from forecasting.records import RECORD_DTYPES, SIMULATOR_FEATURES
from forecasting.sparcs import DataError, load_sparcs, normalise_sparcs
from forecasting.userdata import load_admissions, load_inpatient
from scenarios.loader import load
from scenarios.schema import AGE_GROUPS, home_unit

BASE = {
    "Health Service Area": "New York City", "Hospital County": "Kings",
    "Operating Certificate Number": "7001020", "Facility Id": "1286",
    "Facility Name": "Example Hospital", "Age Group": "50 to 69", "Zip Code - 3 digits": "112",
    "Gender": "F", "Race": "White", "Ethnicity": "Not Span/Hispanic", "Length of Stay": "4",
    "Type of Admission": "Emergency", "Patient Disposition": "Home or Self Care",
    "Discharge Year": "2015", "CCS Diagnosis Code": "122", "CCS Diagnosis Description": "PNEU",
    "CCS Procedure Code": "0", "CCS Procedure Description": "NO PROC", "APR DRG Code": "139",
    "APR DRG Description": "OTHER PNEUMONIA", "APR MDC Code": "4",
    "APR MDC Description": "Diseases and Disorders of the Respiratory System",
    "APR Severity of Illness Code": "2", "APR Severity of Illness Description": "Moderate",
    "APR Risk of Mortality": "Moderate", "APR Medical Surgical Description": "Medical",
    "Payment Typology 1": "Medicare", "Payment Typology 2": "", "Payment Typology 3": "",
    "Attending Provider License Number": "123", "Operating Provider License Number": "",
    "Other Provider License Number": "", "Birth Weight": "0000", "Abortion Edit Indicator": "N",
    "Emergency Department Indicator": "Y", "Total Charges": "12345.67", "Total Costs": "4567.8",
}
assert list(BASE) == list(synthetic.SPARCS_2015_COLUMNS)

QUIRKS = [
    {},
    {"Length of Stay": "120 +", "Age Group": "70 or Older", "APR Severity of Illness Code": "4",
     "APR Risk of Mortality": "Extreme", "APR MDC Code": "5"},
    {"Age Group": "0 to 17", "Type of Admission": "Newborn", "APR MDC Code": "15",
     "Birth Weight": "03100", "Emergency Department Indicator": "N", "Gender": "M",
     "APR Medical Surgical Description": "Not Applicable"},
    {"Length of Stay": "UNKN"},
    {"APR Severity of Illness Code": "0", "APR Risk of Mortality": ""},
    {"Age Group": ""},
    {"Type of Admission": "Not Available", "APR Risk of Mortality": "", "Gender": "U",
     "APR Medical Surgical Description": "Surgical", "Birth Weight": "UNKN", "Total Costs": ""},
]

RENAMED_LATER = {  # 2015 header -> a later release's
    "Health Service Area": "Hospital Service Area", "Facility Id": "Permanent Facility Id",
    "Zip Code - 3 digits": "Zip Code", "CCS Diagnosis Code": "CCSR Diagnosis Code",
    "CCS Diagnosis Description": "CCSR Diagnosis Description",
}


def write_sparcs(path: Path, changes: list[dict[str, str]], *, later: bool = False) -> Path:
    """A SPARCS CSV of BASE rows with `changes`; `later`: 2019+ headers, no abortion flag,
    '$1,234.56' amounts."""
    header = [h for h in BASE if not (later and h == "Abortion Edit Indicator")]
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow([RENAMED_LATER.get(h, h) if later else h for h in header])
        for change in changes:
            row = BASE | change
            if later:
                for money in ("Total Charges", "Total Costs"):
                    row[money] = f"${float(row[money]):,.2f}" if row[money] else ""
            out.writerow([row[h] for h in header])
    return path


# --- SPARCS loader ---

def test_value_quirks_are_parsed_and_unusable_rows_dropped_by_reason(tmp_path):
    loaded = load_sparcs(write_sparcs(tmp_path / "s.csv", QUIRKS))
    r = loaded.records
    assert list(r.columns) == list(RECORD_DTYPES)
    assert {c: str(t) for c, t in r.dtypes.items()} == RECORD_DTYPES
    assert loaded.rows_read == 7
    assert loaded.dropped == {"length_of_stay unknown": 1, "severity 0 or blank": 1,
                              "age_group unknown": 1}
    assert r["length_of_stay"].tolist() == [4, 120, 4, 4]
    assert r["los_top_coded"].tolist() == [False, True, False, False]
    assert r["severity"].tolist() == [2, 4, 2, 2]
    assert r["risk_of_mortality"].tolist()[:3] == [2, 4, 2] and r["risk_of_mortality"].isna()[3]
    assert r["birth_weight"].isna().tolist() == [True, True, False, True]
    assert r["birth_weight"][2] == 3100
    assert r["admission_type"].tolist() == ["Emergency", "Emergency", "Newborn", "Not Available"]
    assert r["ed_indicator"].tolist() == [True, True, False, True]
    assert r["sex"].tolist() == ["F", "F", "M", "U"]
    assert r["surgical"].tolist() == [False, False, False, True]
    assert r["diagnosis_group"].tolist() == ["respiratory", "circulatory", "other", "respiratory"]
    assert r["apr_mdc"].tolist() == [4, 5, 15, 4]
    assert r["total_costs"].isna().tolist() == [False, False, False, True]
    assert r["facility_id"].tolist() == ["1286"] * 4 and r["discharge_year"].tolist() == [2015] * 4
    assert r["admission_date"].isna().all() and r["unit"].isna().all()


def test_later_release_headers_and_dollar_amounts_give_the_same_records(tmp_path):
    first = load_sparcs(write_sparcs(tmp_path / "2015.csv", QUIRKS))
    later = load_sparcs(write_sparcs(tmp_path / "2022.csv", QUIRKS, later=True))
    pd.testing.assert_frame_equal(first.records, later.records)
    assert first.dropped == later.dropped


def test_headers_match_ignoring_case_and_spacing_and_gzip_loads(tmp_path):
    path = write_sparcs(tmp_path / "s.csv", [{}, {"Total Charges": "1,234.50"}])
    text = path.read_text().replace("Length of Stay", "LENGTH  OF stay", 1)
    with gzip.open(tmp_path / "s.csv.gz", "wt", newline="") as f:
        f.write(text)
    r = load_sparcs(tmp_path / "s.csv.gz").records
    assert r["length_of_stay"].tolist() == [4, 4]
    assert r["total_charges"].tolist() == [12345.67, 1234.5]


def test_usecols_reads_fewer_columns_but_keeps_the_same_rows(tmp_path):
    path = write_sparcs(tmp_path / "s.csv", QUIRKS)
    some = load_sparcs(path, usecols=["severity", "diagnosis_group"])
    assert list(some.records.columns) == ["diagnosis_group", "severity"]
    assert len(some.records) == 4 and some.dropped == load_sparcs(path).dropped
    with pytest.raises(ValueError, match="unknown record columns"):
        load_sparcs(path, usecols=["los"])


def test_missing_column_names_it_and_the_accepted_variants(tmp_path):
    path = write_sparcs(tmp_path / "s.csv", [{}])
    lines = path.read_text().splitlines()
    path.write_text(lines[0].replace("Facility Id", "Facility") + "\n" + lines[1] + "\n")
    with pytest.raises(DataError) as err:
        load_sparcs(path)
    assert err.value.column == "Facility Id" and err.value.row is None
    assert "'Facility Id' or 'Permanent Facility Id'" in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("change", "column", "expected"), [
    ({"Length of Stay": "four"}, "Length of Stay", "number of days"),
    ({"APR Severity of Illness Code": "7"}, "APR Severity of Illness Code", "1-4"),
    ({"Birth Weight": "3 kg"}, "Birth Weight", "a number"),
    ({"Type of Admission": "Walk-in"}, "Type of Admission", "Elective"),
    ({"Total Costs": "12,x"}, "Total Costs", "an amount"),
    ({"Age Group": "90+"}, "Age Group", "age group"),
])
def test_bad_value_names_file_row_and_column(tmp_path, change, column, expected):
    path = write_sparcs(tmp_path / "s.csv", [{}, {"Length of Stay": "UNKN"}, change, change])
    with pytest.raises(DataError) as err:
        load_sparcs(path)
    assert (err.value.row, err.value.column) == (4, column)  # header is row 1
    assert f"{path}, row 4, column {column!r}" in str(err.value)
    assert expected in str(err.value)


def test_not_a_csv_or_absent(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_sparcs(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_sparcs(tmp_path / "empty.csv")


# --- synthetic history ---

@pytest.fixture(scope="module")
def history() -> synthetic.SyntheticHistory:
    return synthetic.generate()


@pytest.fixture(scope="module")
def records(history) -> pd.DataFrame:
    return normalise_sparcs(history.records).records


def test_synthetic_matches_sparcs_2015_marginals(history, records):
    """Tolerances: 1 point on shares (sampling s.e. ~0.2 points at 55k records), 0.2 days on
    the LOS mean (s.e. ~0.03 days, plus calibration error); quartiles exact."""
    assert list(history.records.columns) == [*synthetic.SPARCS_2015_COLUMNS,
                                             *synthetic.EXTENSION_COLUMNS]
    assert 50_000 < len(records) < 60_000
    los = records["length_of_stay"]
    assert los.mean() == pytest.approx(5.48, abs=0.2)
    assert los.quantile([0.25, 0.5, 0.75]).tolist() == [2, 3, 6]
    assert los.max() == 120 and records["los_top_coded"].sum() > 0
    assert (history.records["Length of Stay"] == "120 +").sum() == records["los_top_coded"].sum()

    def shares(column):
        return records[column].value_counts(normalize=True)

    targets = {
        "age_group": dict(zip(AGE_GROUPS, (.150, .105, .195, .275, .274), strict=True)),
        "admission_type": {"Emergency": .634, "Elective": .191, "Newborn": .097, "Urgent": .075,
                           "Trauma": .003},
        "severity": {1: .335, 2: .382, 3: .220, 4: .063},
    }
    for column, target in targets.items():
        for value, share in target.items():
            assert shares(column)[value] == pytest.approx(share, abs=0.01), (column, value)


def test_synthetic_los_depends_on_admission_attributes_with_noise(history, records):
    los, truth = records["length_of_stay"], history.los_expected.to_numpy()
    ceiling = 1 - ((los - truth) ** 2).sum() / ((los - los.mean()) ** 2).sum()
    assert 0.2 < ceiling < 0.45
    assert truth.mean() == pytest.approx(los.mean(), rel=0.02)

    # an honest model (least squares on one-hot simulator features) learns it out of sample
    x = pd.get_dummies(records[list(SIMULATOR_FEATURES)].astype(str), dtype=float).to_numpy()
    x = np.column_stack([np.ones(len(x)), x])
    train = records.index < len(records) * 2 // 3
    beta = np.linalg.lstsq(x[train], los[train], rcond=None)[0]
    test = los[~train]
    r2 = 1 - ((test - x[~train] @ beta) ** 2).sum() / ((test - test.mean()) ** 2).sum()
    assert 0.15 < r2 <= ceiling + 0.02
    by_severity = los.groupby(records["severity"]).mean()
    assert by_severity.is_monotonic_increasing and by_severity[4] > 3 * by_severity[1]
    assert np.corrcoef(los, records["total_charges"])[0, 1] > 0.7  # why charges leak


def test_records_add_up_to_daily_admissions(history):
    daily = history.daily
    assert list(daily.columns) == ["date", "unit", "admissions"]
    assert daily["date"].dtype == "datetime64[ns]" and daily["admissions"].dtype == np.int64
    counted = (history.records.groupby(["Admission Date", "Unit"], observed=False).size()
               .reindex(pd.MultiIndex.from_arrays([daily["date"].dt.strftime("%Y-%m-%d"),
                                                   daily["unit"].astype(str)]), fill_value=0))
    assert (counted.to_numpy() == daily["admissions"].to_numpy()).all()
    assert len(daily) == 1096 * 5  # 2015-2017, five wards


def test_daily_series_shape_volume_and_calendar(history):
    merged = history.daily.merge(history.expected, on=["date", "unit"])
    per_day = merged.groupby("date")[["admissions", "expected"]].sum()
    assert per_day["expected"].mean() == pytest.approx(synthetic.DAILY_ADMISSIONS, rel=1e-9)
    assert per_day["admissions"].mean() == pytest.approx(50, rel=0.03)
    dispersion = ((merged["admissions"] - merged["expected"]) ** 2 / merged["expected"]).mean()
    assert dispersion > 1.1  # over-dispersed: not Poisson
    expected = per_day["expected"]
    christmas, boxing = pd.Timestamp("2015-12-25"), pd.Timestamp("2015-12-26")
    same_weekday = expected[expected.index.day_of_week == christmas.day_of_week]
    assert expected[christmas] < 0.8 * same_weekday.median()
    surgery = merged[merged["unit"] == "surgery"].set_index("date")["expected"]
    after_labor_day = surgery[pd.Timestamp("2015-09-08")]  # Tuesday after Labor Day
    assert after_labor_day > surgery[pd.Timestamp("2015-09-15")]
    weekend = merged[merged["date"].dt.day_of_week >= 5]
    assert weekend["expected"].mean() < merged["expected"].mean()
    assert expected[boxing] > 0


def test_wards_follow_the_baseline_scenario(records):
    baseline = load("baseline")
    names = [u.name for u in baseline.units]
    assert set(synthetic.WARDS) <= set(names)
    for (age, group), ward in records.groupby(["age_group", "diagnosis_group"],
                                             observed=True)["unit"].first().items():
        spec = baseline.case_mix.diagnosis_group[group].specialty
        assert names[home_unit(baseline.units, spec, age)] == ward, (age, group)


def test_generation_is_deterministic_and_fast(tmp_path):
    import time

    started = time.perf_counter()
    a = synthetic.generate(years=1, seed=5)
    assert time.perf_counter() - started < 5
    b = synthetic.generate(years=1, seed=5)
    assert a.records.equals(b.records) and a.daily.equals(b.daily)  # (fast on categoricals)
    assert not synthetic.generate(years=1, seed=6).daily.equals(a.daily)
    for mine, theirs in zip(a.write(tmp_path / "a"), b.write(tmp_path / "b"), strict=True):
        assert mine.read_bytes() == theirs.read_bytes()


def test_written_history_loads_back_as_in_memory(history, records, tmp_path):
    paths = history.write(tmp_path)
    assert [p.name for p in paths] == ["sparcs.csv", "admissions.csv", "expected.csv",
                                       "README.txt"]
    loaded = load_sparcs(tmp_path / "sparcs.csv")
    assert loaded.rows_read == len(history.records) and sum(loaded.dropped.values()) == 0
    assert loaded.records.equals(records)  # same values and dtypes
    assert {c: str(t) for c, t in records.dtypes.items()} == RECORD_DTYPES
    assert records["admission_date"].notna().all()
    assert set(records["unit"].cat.categories) == set(synthetic.WARDS)
    pd.testing.assert_frame_equal(load_admissions(tmp_path / "admissions.csv"), history.daily,
                                  check_categorical=False)


def test_generate_records_is_a_plain_sparcs_release():
    frame = synthetic.generate_records(2000, seed=1)
    assert list(frame.columns) == list(synthetic.SPARCS_2015_COLUMNS) and len(frame) == 2000
    assert (frame["Discharge Year"] == 2015).all()
    assert len(normalise_sparcs(frame).records) == 2000


# --- user files ---

def test_user_admissions_accepts_count_or_admissions_and_fills_gaps(tmp_path):
    (tmp_path / "a.csv").write_text(
        "Date,Unit,Count\n2024-01-01,icu,3\n2024-01-03,icu,2\n2024-01-01,ward,10\n"
    )
    daily = load_admissions(tmp_path / "a.csv")
    assert list(daily.columns) == ["date", "unit", "admissions"]
    assert daily["unit"].tolist() == ["icu", "ward", "icu", "icu"]
    assert daily["admissions"].tolist() == [3, 10, 0, 2]
    assert daily["date"].dtype == "datetime64[ns]" and daily["admissions"].dtype == np.int64
    (tmp_path / "t.csv").write_text("date,admissions\n2024-01-02,5\n2024-01-01,4\n")
    total = load_admissions(tmp_path / "t.csv")
    assert total["unit"].tolist() == ["total", "total"] and total["admissions"].tolist() == [4, 5]


@pytest.mark.parametrize(("text", "row", "column", "message"), [
    ("date,count\n2024-01-01,3\n01/02/2024,4\n", 3, "date", "ISO date"),
    ("date,count\n2024-01-01,3\n2024-01-02,-1\n", 3, "count", "whole number"),
    ("date,unit,count\n2024-01-01,a,3\n2024-01-02,a,1\n2024-01-01,a,2\n", 4, None, "repeats row 2"),
    ("date,unit\n2024-01-01,a\n", None, "admissions", "'admissions' or 'count'"),
])
def test_user_admissions_errors(tmp_path, text, row, column, message):
    path = tmp_path / "a.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        load_admissions(path)
    assert (err.value.row, err.value.column, err.value.path) == (row, column, str(path))


INPATIENT = """\
Stay (days),Age,Acuity,Kind,Dept,Admitted,Operated
3,67,major,Emergency,surgery,2024-02-01,yes
12,8,Extreme,Urgent,paediatrics,2024-02-01,no
,45,2,Elective,surgery,2024-02-02,yes
5,80,0,Elective,medicine,2024-02-03,
"""
MAPPING = {"length_of_stay": "stay (days)", "age_group": "Age", "severity": "Acuity",
           "admission_type": "Kind", "unit": "Dept", "admission_date": "Admitted",
           "surgical": "Operated"}


def test_user_inpatient_file_maps_columns_and_fills_the_rest(tmp_path):
    (tmp_path / "ip.csv").write_text(INPATIENT)
    loaded = load_inpatient(tmp_path / "ip.csv", MAPPING)
    r = loaded.records
    assert {c: str(t) for c, t in r.dtypes.items()} == RECORD_DTYPES
    assert loaded.rows_read == 4 and loaded.dropped["length_of_stay unknown"] == 1
    assert loaded.dropped["severity 0 or blank"] == 1
    assert r["length_of_stay"].tolist() == [3, 12]
    assert r["age_group"].tolist() == ["50 to 69", "0 to 17"]
    assert r["severity"].tolist() == [3, 4]
    assert r["unit"].tolist() == ["surgery", "paediatrics"]
    assert r["admission_date"].tolist() == [pd.Timestamp("2024-02-01")] * 2
    assert r["surgical"].tolist() == [True, False]
    assert r["diagnosis_group"].isna().all() and r["risk_of_mortality"].isna().all()
    assert not r["ed_indicator"].any()  # unmapped bool: False


def test_user_inpatient_errors(tmp_path):
    path = tmp_path / "ip.csv"
    path.write_text(INPATIENT)
    with pytest.raises(ValueError, match="length_of_stay"):
        load_inpatient(path, {"age_group": "Age"})
    with pytest.raises(ValueError, match="cannot map"):
        load_inpatient(path, {"length_of_stay": "Stay (days)", "los_top_coded": "Age"})
    with pytest.raises(DataError, match="'Ward' \\(mapped to unit\\)") as err:
        load_inpatient(path, {"length_of_stay": "Stay (days)", "unit": "Ward"})
    assert err.value.column == "Ward"
    path.write_text(INPATIENT.replace("12,8,Extreme", "12,8,Severe"))
    with pytest.raises(DataError) as err:
        load_inpatient(path, MAPPING)
    assert (err.value.row, err.value.column) == (3, "Acuity")
