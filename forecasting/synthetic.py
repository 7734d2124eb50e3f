"""The embedded default history: SPARCS-2015-like inpatient records for the baseline hospital.

Real SPARCS extracts cannot ship with hospsim, so forecasting and LOS models train by default
on this history: records in the exact SPARCS 2015 layout (so they go through the same loader
as a real release), plus two extension columns, `Admission Date` and `Unit`, that a discharge
extract lacks but a hospital's own data has. Because it is generated, the truth behind it is
known too: `expected` (the conditional mean admissions, the floor no forecaster can beat) and
`los_expected` (each record's conditional mean LOS, the ceiling any LOS model can reach).

Calibration targets (SPARCS 2015, all NY discharges; tests/test_forecasting_data.py checks a
3-year history against them, with tolerances): LOS mean 5.48,
quartiles 2 / 3 / 6, top-coded at '120 +'; age 0-17 15.0%, 18-29 10.5%, 30-49 19.5%,
50-69 27.5%, 70+ 27.4%; admission Emergency 63.4%, Elective 19.1%, Newborn 9.7%,
Urgent 7.5%, Trauma 0.3%; severity Minor 33.5%, Moderate 38.2%, Major 22.0%, Extreme 6.3%.
Age, case mix (APR MDC by age), admission type and severity follow exactly in expectation
(conditionals are tilted by clinical plausibility, then their base rates raked to the targets).

Volume: 50 admissions a day over the five wards (DAILY_ADMISSIONS) - the SPARCS mix puts 9.55
of them elective, as in the baseline scenario's elective stream (9.5), and 40.45 non-elective
(the baseline's 46 emergency admissions include no newborns). Each ward's day is a negative
binomial count (size NB_SIZE) around weekday x annual (Fourier) x NY-holiday effects; the
records are then drawn for each ward and day, so they add up to `daily` exactly.

LOS = round(m x lognormal noise), within 1..120, where the mean m multiplies effects of
severity (strongest), age, admission type, APR MDC, surgery and risk of mortality (newborns:
birth weight and severity) and the noise grows with severity: even the true mean explains only
~27% of the variance (R^2), so honest models land near 0.2-0.3. Charges and costs scale with
the LOS drawn, which is why they leak it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
from scipy import stats

from forecasting.records import MDC_GROUPS
from scenarios.schema import ADMISSION_TYPES, AGE_GROUPS

SPARCS_2015_COLUMNS = (
    "Health Service Area", "Hospital County", "Operating Certificate Number", "Facility Id",
    "Facility Name", "Age Group", "Zip Code - 3 digits", "Gender", "Race", "Ethnicity",
    "Length of Stay", "Type of Admission", "Patient Disposition", "Discharge Year",
    "CCS Diagnosis Code", "CCS Diagnosis Description", "CCS Procedure Code",
    "CCS Procedure Description", "APR DRG Code", "APR DRG Description", "APR MDC Code",
    "APR MDC Description", "APR Severity of Illness Code", "APR Severity of Illness Description",
    "APR Risk of Mortality", "APR Medical Surgical Description", "Payment Typology 1",
    "Payment Typology 2", "Payment Typology 3", "Attending Provider License Number",
    "Operating Provider License Number", "Other Provider License Number", "Birth Weight",
    "Abortion Edit Indicator", "Emergency Department Indicator", "Total Charges", "Total Costs",
)
EXTENSION_COLUMNS = ("Admission Date", "Unit")

WARDS = ("medicine", "surgery", "cardiology", "orthopaedics", "paediatrics")
"""The baseline scenario's wards (scenarios/library/baseline.yaml)."""
WARD_OF_GROUP = {
    "circulatory": "cardiology", "digestive": "surgery", "hepatobiliary": "surgery",
    "musculoskeletal": "orthopaedics", "injury": "orthopaedics",
}
"""Diagnosis group -> ward as the baseline's specialties route them; others go to medicine and
every patient aged 0 to 17 to paediatrics."""

DAILY_ADMISSIONS = 50.0
NB_SIZE = 30.0  # daily counts: variance = mean + mean^2 / NB_SIZE
LOS_SIGMA = (0.6, 0.75, 0.85, 0.95)  # LOS = round(m * mean-1 lognormal noise of this log-sd by
# severity), within 1..120: sicker patients' stays are less predictable

AGE_SHARES = np.array([0.150, 0.105, 0.195, 0.275, 0.274]) / 0.999  # published shares, rounded
TYPE_SHARES = dict(Emergency=0.634, Elective=0.191, Urgent=0.075, Newborn=0.097, Trauma=0.003)
SEVERITY_SHARES = np.array([0.335, 0.382, 0.220, 0.063])
SEVERITY_NAMES = ("Minor", "Moderate", "Major", "Extreme")

# APR MDC: description, share among adults, among children other than newborns, LOS factor,
# P(surgical) when not elective, when elective
_MDC: dict[int, tuple[str, float, float, float, float, float]] = {
    1: ("Diseases and Disorders of the Nervous System", .055, .07, 1.05, .08, .45),
    3: ("Ear, Nose, Mouth, Throat and Craniofacial Diseases and Disorders", .010, .05, .75, .10,
        .60),
    4: ("Diseases and Disorders of the Respiratory System", .095, .22, 1.0, .03, .30),
    5: ("Diseases and Disorders of the Circulatory System", .140, .015, .9, .15, .60),
    6: ("Diseases and Disorders of the Digestive System", .100, .10, .95, .45, .90),
    7: ("Diseases and Disorders of the Hepatobiliary System and Pancreas", .035, .01, 1.05, .40,
        .90),
    8: ("Diseases and Disorders of the Musculoskeletal System and Conn Tissue", .080, .04, 1.0,
        .70, .95),
    9: ("Diseases and Disorders of the Skin, Subcutaneous Tissue and Breast", .025, .04, .9, .10,
        .60),
    10: ("Endocrine, Nutritional and Metabolic Diseases and Disorders", .030, .05, .85, .05, .50),
    11: ("Diseases and Disorders of the Kidney and Urinary Tract", .045, .03, .95, .08, .60),
    12: ("Diseases and Disorders of the Male Reproductive System", .004, .005, .8, .30, .90),
    13: ("Diseases and Disorders of the Female Reproductive System", .013, .005, .8, .50, .95),
    14: ("Pregnancy, Childbirth and the Puerperium", .130, .05, .65, .30, .55),
    16: ("Diseases and Disorders of Blood, Blood Forming Organs and Immunological Disorders",
         .010, .02, 1.0, .03, .30),
    17: ("Lymphatic, Hematopoietic, Other Malignancies, Chemotherapy and Radiotherapy", .010,
         .01, 1.5, .05, .40),
    18: ("Infectious and Parasitic Diseases, Systemic or Unspecified Sites", .075, .06, 1.2, .03,
         .30),
    19: ("Mental Diseases and Disorders", .055, .14, 2.2, 0.0, 0.0),
    20: ("Alcohol/Drug Use and Alcohol/Drug Induced Organic Mental Disorders", .045, .01, 1.1,
         0.0, 0.0),
    21: ("Poisonings, Toxic Effects, Other Injuries and Complications of Treatment", .020, .04,
         .9, .30, .60),
    23: ("Rehabilitation, Aftercare, Other Factors Influencing Health Status and Other Health "
         "Service Contacts", .010, .005, 2.0, .05, .30),
    25: ("Multiple Significant Trauma", .004, .005, 1.6, .60, .60),
    15: ("Newborns and Other Neonates with Conditions Originating in the Perinatal Period", 0.0,
         0.0, 1.0, .01, .01),
}
NEWBORN = 15
NEWBORN_SHARE_OF_CHILDREN = TYPE_SHARES["Newborn"] / AGE_SHARES[0]

# APR MDC -> principal diagnosis (CCS), medical APR DRG, and the surgical procedure and DRG
_DX: dict[int, tuple[int, str, int, str, int, str, int, str]] = {
    1: (109, "ACUTE CEREBROVASCULAR DISEASE", 45, "CVA & PRECEREBRAL OCCLUSION W INFARCT",
        1, "INCISION AND EXCISION OF CNS", 21, "CRANIOTOMY EXCEPT FOR TRAUMA"),
    3: (134, "OTHER UPPER RESPIRATORY DISEASE", 115, "OTHER EAR, NOSE, MOUTH,THROAT & CRANIAL/"
        "FACIAL DIAGNOSES", 33, "TONSILLECTOMY AND/OR ADENOIDECTOMY", 97,
        "TONSIL & ADENOID PROCEDURES"),
    4: (122, "PNEUMONIA (EXCEPT THAT CAUSED BY TUBERCULOSIS OR SEXUALLY TRANSMITTED DISEASE)",
        139, "OTHER PNEUMONIA", 216, "RESPIRATORY INTUBATION AND MECHANICAL VENTILATION", 130,
        "RESPIRATORY SYSTEM DIAGNOSIS W VENTILATOR SUPPORT 96+ HOURS"),
    5: (108, "CONGESTIVE HEART FAILURE; NONHYPERTENSIVE", 194, "HEART FAILURE", 45,
        "PERCUTANEOUS TRANSLUMINAL CORONARY ANGIOPLASTY (PTCA)", 175,
        "PERCUTANEOUS CARDIOVASCULAR PROCEDURES W/O AMI"),
    6: (145, "INTESTINAL OBSTRUCTION WITHOUT HERNIA", 247, "INTESTINAL OBSTRUCTION", 78,
        "COLORECTAL RESECTION", 221, "MAJOR SMALL & LARGE BOWEL PROCEDURES"),
    7: (149, "BILIARY TRACT DISEASE", 282, "DISORDERS OF GALLBLADDER & BILIARY TRACT", 84,
        "CHOLECYSTECTOMY AND COMMON DUCT EXPLORATION", 263, "LAPAROSCOPIC CHOLECYSTECTOMY"),
    8: (203, "OSTEOARTHRITIS", 351, "OTHER MUSCULOSKELETAL SYSTEM & CONNECTIVE TISSUE DIAGNOSES",
        152, "ARTHROPLASTY KNEE", 302, "KNEE JOINT REPLACEMENT"),
    9: (197, "SKIN AND SUBCUTANEOUS TISSUE INFECTIONS", 383,
        "CELLULITIS & OTHER BACTERIAL SKIN INFECTIONS", 169,
        "DEBRIDEMENT OF WOUND, INFECTION OR BURN", 361,
        "SKIN GRAFT FOR SKIN & SUBCUTANEOUS TISSUE DIAGNOSES"),
    10: (50, "DIABETES MELLITUS WITH COMPLICATIONS", 420, "DIABETES", 10,
         "THYROIDECTOMY, PARTIAL OR COMPLETE", 404, "THYROID, PARATHYROID & THYROGLOSSAL "
         "PROCEDURES"),
    11: (159, "URINARY TRACT INFECTIONS", 463, "KIDNEY & URINARY TRACT INFECTIONS", 100,
         "ENDOSCOPY AND ENDOSCOPIC BIOPSY OF THE URINARY TRACT", 446,
         "URETHRAL & TRANSURETHRAL PROCEDURES"),
    12: (164, "HYPERPLASIA OF PROSTATE", 501, "MALE REPRODUCTIVE SYSTEM DIAGNOSES EXCEPT "
         "MALIGNANCY", 113, "TRANSURETHRAL RESECTION OF PROSTATE (TURP)", 482,
         "TRANSURETHRAL PROSTATECTOMY"),
    13: (171, "MENSTRUAL DISORDERS", 532, "MENSTRUAL & OTHER FEMALE REPRODUCTIVE SYSTEM "
         "DISORDERS", 124, "HYSTERECTOMY, ABDOMINAL AND VAGINAL", 513,
         "UTERINE & ADNEXA PROCEDURES FOR NON-MALIGNANCY EXCEPT LEIOMYOMA"),
    14: (196, "NORMAL PREGNANCY AND/OR DELIVERY", 560, "VAGINAL DELIVERY", 134,
         "CESAREAN SECTION", 540, "CESAREAN DELIVERY"),
    15: (218, "LIVEBORN", 640, "NEONATE BIRTHWT >2499G, NORMAL NEWBORN OR NEONATE W OTHER "
         "PROBLEM", 115, "CIRCUMCISION", 631, "NEONATE BIRTHWT >2499G W OTHER MAJOR PROCEDURE"),
    16: (59, "DEFICIENCY AND OTHER ANEMIA", 663, "OTHER ANEMIA & DISORDERS OF BLOOD & "
         "BLOOD-FORMING ORGANS", 64, "BONE MARROW TRANSPLANT", 651,
         "OTHER PROCEDURES OF BLOOD & BLOOD-FORMING ORGANS"),
    17: (39, "LEUKEMIAS", 691, "LYMPHOMA, MYELOMA & NON-ACUTE LEUKEMIA", 64,
         "BONE MARROW TRANSPLANT", 680, "MAJOR O.R. PROCEDURES FOR LYMPHATIC/HEMATOPOIETIC/"
         "OTHER NEOPLASMS"),
    18: (2, "SEPTICEMIA (EXCEPT IN LABOR)", 720, "SEPTICEMIA & DISSEMINATED INFECTIONS", 169,
         "DEBRIDEMENT OF WOUND, INFECTION OR BURN", 710,
         "INFECTIOUS & PARASITIC DISEASES INCLUDING HIV W O.R. PROCEDURE"),
    19: (657, "MOOD DISORDERS", 753, "BIPOLAR DISORDERS", 0, "NO PROC", 753,
         "BIPOLAR DISORDERS"),
    20: (660, "ALCOHOL-RELATED DISORDERS", 775, "ALCOHOL ABUSE & DEPENDENCE", 0, "NO PROC", 775,
         "ALCOHOL ABUSE & DEPENDENCE"),
    21: (242, "POISONING BY OTHER MEDICATIONS AND DRUGS", 812, "POISONING OF MEDICINAL AGENTS",
         169, "DEBRIDEMENT OF WOUND, INFECTION OR BURN", 791,
         "O.R. PROCEDURE FOR OTHER COMPLICATIONS OF TREATMENT"),
    23: (254, "REHABILITATION CARE, FITTING OF PROSTHESES, AND ADJUSTMENT OF DEVICES", 860,
         "REHABILITATION", 231, "OTHER THERAPEUTIC PROCEDURES", 850,
         "PROCEDURE W DIAG OF REHAB, AFTERCARE OR OTH CONTACT W HEALTH SERVICE"),
    25: (231, "OTHER FRACTURE", 930, "MULTIPLE SIGNIFICANT TRAUMA W/O O.R. PROCEDURE", 146,
         "TREATMENT, FRACTURE OR DISLOCATION OF HIP AND FEMUR", 912,
         "MUSCULOSKELETAL & OTHER PROCEDURES FOR MULTIPLE SIGNIFICANT TRAUMA"),
}

# clinical tilts (relative weights; base rates are raked to the targets afterwards)
_AGE_TILT = {  # MDC -> adult age groups 18-29, 30-49, 50-69, 70+
    4: (.4, .6, 1, 1.5), 5: (.15, .5, 1.2, 1.8), 8: (.4, .8, 1.3, 1.2), 11: (.5, .6, .9, 1.5),
    14: (4, 2.5, .02, 0), 18: (.4, .6, 1, 1.6), 19: (2.5, 1.8, .8, .3), 20: (1.5, 2, 1.2, .2),
}
_TYPE_TILT = {  # MDC -> Emergency, Elective, Urgent, Trauma
    4: (1.3, .15, .8, 0), 5: (1, 1.5, 1.5, .2), 6: (1, 1, 1, .2), 7: (1, 1.5, 1, .1),
    8: (1, 5, 1, 2), 12: (.6, 4, 1, 0), 13: (.6, 4, 1, 0), 14: (.6, 2.5, 3, .05),
    17: (.6, 3, 1.5, 0), 18: (1.3, .1, .8, 0), 19: (1.2, .2, 1, 0), 20: (1.2, .2, 1, 0),
    21: (1, .3, 1, 8), 23: (.5, 3, 1.5, 0), 25: (.5, 0, .5, 40),
}
_TYPES = ("Emergency", "Elective", "Urgent", "Trauma")  # the order of _TYPE_TILT
_SEVERITY_TILT_AGE = ((1.6, 1, .6, .4), (1.6, 1, .6, .4), (1.2, 1, .8, .7), (.9, 1, 1.1, 1.1),
                      (.6, 1, 1.4, 1.7))
_SEVERITY_TILT_MDC = {NEWBORN: (6, .8, .3, .2), 14: (3, 1, .2, .05), 18: (.2, .8, 1.6, 2.5),
                      5: (.8, 1.1, 1.1, 1), 19: (1, 1.3, .7, .2), 20: (1, 1.2, .8, .3)}
_SEVERITY_TILT_TYPE = {"Elective": (1.4, 1, .6, .4), "Trauma": (.5, 1, 1.5, 2.5)}

# LOS mean m (days) = factors below; newborns: by birth-weight band and severity
_LOS_SEVERITY = (2.24, 3.70, 6.54, 14.19)
_LOS_AGE = (.85, .85, .95, 1.05, 1.15)
_LOS_TYPE = {"Emergency": 1.05, "Elective": .85, "Urgent": 1.0, "Trauma": 1.3, "Newborn": 1.0}
_LOS_SURGICAL = 1.35
_LOS_ROM = (.65, .75, .87, 1.0, 1.2, 1.45, 1.7)  # by risk of mortality - severity, -3..+3
_NEWBORN_LOS = (2.4, 9.0, 32.0)  # >= 2500 g, 1500-2499 g, < 1500 g
_NEWBORN_LOS_SEVERITY = (1.0, 1.4, 2.2, 3.5)
_BIRTH_WEIGHT_BAND = ((.985, .013, .002), (.92, .07, .01), (.75, .20, .05), (.45, .30, .25))

_ROM_AGE_SHIFT = (-.6, -.4, -.1, .2, .5)  # risk of mortality vs severity, by age group
_PAYERS = ("Medicare", "Medicaid", "Private Health Insurance", "Blue Cross/Blue Shield",
           "Self-Pay", "Federal/State/Local/VA", "Miscellaneous/Other")
_PAYER_BY_AGE = ((0, .55, .25, .13, .03, .02, .02), (.03, .50, .25, .12, .07, .02, .01),
                 (.07, .45, .27, .13, .05, .02, .01), (.30, .30, .23, .11, .03, .02, .01),
                 (.85, .06, .05, .02, .005, .01, .005))
_RACES = (("White", .53), ("Black/African American", .19), ("Other Race", .26),
          ("Multi-racial", .02))
_ETHNICITIES = (("Not Span/Hispanic", .80), ("Spanish/Hispanic", .11), ("Unknown", .085),
                ("Multi-ethnic", .005))
_ZIPS = ("100", "101", "103", "104", "105", "107", "110", "111", "112", "113", "114", "OOS")
_DISPOSITIONS = ("Home or Self Care", "Home w/ Home Health Services", "Skilled Nursing Home",
                 "Expired", "Left Against Medical Advice", "Short-term Hospital",
                 "Inpatient Rehabilitation Facility", "Psychiatric Hospital or Unit of Hosp",
                 "Hospice - Medical Facility")
_FACILITY = {"Health Service Area": "New York City", "Hospital County": "Manhattan",
             "Operating Certificate Number": 7002999, "Facility Id": 9999,
             "Facility Name": "Hospsim General Hospital", "Abortion Edit Indicator": "N"}

# the daily series: emergency-like (all but elective) and elective streams
_EMERGENCY_WEEKDAY = (1.10, 1.03, 1.00, 1.00, 1.00, 0.93, 0.94)  # Monday first, as baseline
_ELECTIVE_WEEKDAY = (1, 1, 1, 1, 1, 0, 0)
_SEASON = {"medicine": .10, "surgery": .03, "cardiology": .07, "orthopaedics": -.04,
           "paediatrics": .18}  # log amplitude of the annual cycle, peak mid-January
_SEASON_PEAK_DAY = 15
_HOLIDAY = {"emergency": (0.85, 1.10), "elective": (0.0, 1.25)}  # on the day, the day after


@dataclass(frozen=True)
class SyntheticHistory:
    """A generated history and the truths behind it (see the module docstring)."""

    records: pd.DataFrame  # SPARCS 2015 columns + EXTENSION_COLUMNS
    daily: pd.DataFrame  # date, unit, admissions
    expected: pd.DataFrame  # date, unit, expected: the true conditional mean admissions
    los_expected: pd.Series  # true conditional mean LOS of each record (records' index)

    def write(self, directory: str | Path) -> list[Path]:
        """sparcs.csv, admissions.csv, expected.csv and README.txt; byte-identical per seed."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / name for name in
                 ("sparcs.csv", "admissions.csv", "expected.csv", "README.txt")]
        self.records.to_csv(paths[0], index=False)
        self.daily.to_csv(paths[1], index=False, date_format="%Y-%m-%d")
        self.expected.to_csv(paths[2], index=False, date_format="%Y-%m-%d", float_format="%.6f")
        first, last = self.daily["date"].min(), self.daily["date"].max()
        paths[3].write_text(_README.format(
            rows=len(self.records), first=f"{first:%Y-%m-%d}", last=f"{last:%Y-%m-%d}",
            wards=", ".join(WARDS), daily=DAILY_ADMISSIONS,
        ))
        return paths


_README = """\
hospsim synthetic inpatient history ({first} to {last}), generated by forecasting.synthetic.

sparcs.csv      {rows} inpatient records in the New York SPARCS 2015 de-identified layout
                (load with forecasting.sparcs.load_sparcs), plus two extension columns:
                Admission Date (ISO) and Unit (the ward: {wards}).
admissions.csv  date, unit, admissions: the records counted by admission date and unit.
expected.csv    date, unit, expected: the true conditional mean of those counts
                ({daily:g} a day in total): the error floor for any forecaster.

Synthetic data calibrated to SPARCS 2015 marginals; no real patient is in it.
"""


# --- case mix: cells (age group, APR MDC, admission type) and their conditionals ---

def _rake(cell_p: np.ndarray, weights: np.ndarray, target: np.ndarray) -> np.ndarray:
    """P(k | cell) proportional to base_k * weights[cell, k], base chosen so the marginal over
    cells is `target` (iterative proportional fitting of one margin)."""
    base = target.astype(float).copy()
    for _ in range(500):
        conditional = base * weights
        conditional /= conditional.sum(axis=1, keepdims=True)
        marginal = cell_p @ conditional
        reachable = marginal > 0
        base[reachable] *= target[reachable] / marginal[reachable]
        if np.abs(marginal - target).max() < 1e-10:
            break
    return conditional


@dataclass(frozen=True)
class _CaseMix:
    """Every (age, MDC, admission type) cell: its probability, ward and severity law."""

    age: np.ndarray  # index into AGE_GROUPS
    mdc: np.ndarray  # APR MDC code
    kind: np.ndarray  # index into ADMISSION_TYPES
    p: np.ndarray
    ward: np.ndarray  # index into WARDS
    severity: np.ndarray  # cells x 4: P(severity | cell)


@cache
def _case_mix() -> _CaseMix:
    mdcs = np.array(list(_MDC))
    adult = np.array([_MDC[m][1] for m in mdcs])
    child = np.array([_MDC[m][2] for m in mdcs])
    child = child / child.sum() * (1 - NEWBORN_SHARE_OF_CHILDREN)
    child[mdcs == NEWBORN] = NEWBORN_SHARE_OF_CHILDREN
    p_mdc = [child]
    for a in range(4):
        tilted = adult * np.array([_AGE_TILT.get(m, (1, 1, 1, 1))[a] for m in mdcs])
        p_mdc.append(tilted / tilted.sum())
    p_age_mdc = AGE_SHARES[:, None] * np.array(p_mdc)  # age x mdc

    age, mdc_i = (g.ravel() for g in np.indices(p_age_mdc.shape))
    p_am, mdc = p_age_mdc.ravel(), mdcs[mdc_i]
    type_index = [ADMISSION_TYPES.index(t) for t in _TYPES]
    weights = np.zeros((age.size, len(ADMISSION_TYPES)))
    for i in range(age.size):
        if mdc[i] == NEWBORN:
            weights[i, ADMISSION_TYPES.index("Newborn")] = 1
            continue
        tilt = np.array(_TYPE_TILT.get(mdc[i], (1, 1, 1, 1)), dtype=float)
        if age[i] == 4:
            tilt *= (1.2, .8, 1, 1)
        elif age[i] == 0:
            tilt *= (1, .6, 1, 1)
        weights[i, type_index] = tilt
    target = np.array([TYPE_SHARES[t] for t in ADMISSION_TYPES])
    p_type = _rake(p_am, weights, target)

    age, mdc = np.repeat(age, len(ADMISSION_TYPES)), np.repeat(mdc, len(ADMISSION_TYPES))
    kind = np.tile(np.arange(len(ADMISSION_TYPES)), p_am.size)
    p = (p_am[:, None] * p_type).ravel()
    live = p > 0
    age, mdc, kind, p = age[live], mdc[live], kind[live], p[live]

    tilt = np.array([
        np.multiply.reduce([
            _SEVERITY_TILT_AGE[a], _SEVERITY_TILT_MDC.get(m, (1, 1, 1, 1)),
            _SEVERITY_TILT_TYPE.get(ADMISSION_TYPES[k], (1, 1, 1, 1)),
        ]) for a, m, k in zip(age, mdc, kind, strict=True)
    ])
    wards = [WARD_OF_GROUP.get(MDC_GROUPS.get(m, "other"), "medicine") for m in mdc]
    ward = np.array([WARDS.index("paediatrics" if a == 0 else w) for a, w in zip(age, wards,
                                                                                 strict=True)])
    return _CaseMix(age, mdc, kind, p, ward, _rake(p, tilt, SEVERITY_SHARES))


def _draw(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `probabilities` (rows sum to 1)."""
    cumulative = probabilities.cumsum(axis=1)
    return (rng.random(len(probabilities))[:, None] > cumulative[:, :-1]).sum(axis=1)


# --- patients: everything a record says, given its cell ---

def _expected_los(mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """E[recorded LOS] = E[min(max(round(X), 1), 120)], X = mean * lognormal(sigma) noise."""
    unique, inverse = np.unique(np.column_stack([mean, sigma]), axis=0, return_inverse=True)
    m, s = unique[:, 0], unique[:, 1]
    z = (np.log(np.arange(1, 120) + 0.5)[:, None] - np.log(m) + s**2 / 2) / s
    return (1 + stats.norm.sf(z).sum(axis=0))[inverse.ravel()]


def _mdc_column(field: int) -> np.ndarray:
    """One field of _MDC as an array indexed by APR MDC code (0-25)."""
    column = np.zeros(26, dtype=object if field == 0 else float)
    for code, row in _MDC.items():
        column[code] = row[field]
    return column


def _patients(rng: np.random.Generator, mix: _CaseMix, cell: np.ndarray) -> dict[str, np.ndarray]:
    """Severity, risk of mortality, surgery, birth weight and LOS (with its true mean)."""
    age, mdc, kind = mix.age[cell], mix.mdc[cell], mix.kind[cell]
    n = cell.size
    elective = kind == ADMISSION_TYPES.index("Elective")
    severity = _draw(rng, mix.severity[cell]) + 1

    offsets = np.arange(-3, 4)  # risk of mortality - severity: centred by age, within 1-4
    rom_p = np.exp(-1.8 * np.abs(offsets - np.array(_ROM_AGE_SHIFT)[age][:, None]))
    rom_p *= (severity[:, None] + offsets >= 1) & (severity[:, None] + offsets <= 4)
    rom = severity + offsets[_draw(rng, rom_p / rom_p.sum(axis=1, keepdims=True))]

    p_surgical = np.where(elective, _mdc_column(5)[mdc], _mdc_column(4)[mdc])
    surgical = rng.random(n) < p_surgical

    newborn = mdc == NEWBORN
    band = _draw(rng, np.array(_BIRTH_WEIGHT_BAND)[severity - 1])
    grams = np.select(
        [band == 0, band == 1],
        [np.clip(rng.normal(3350, 450, n), 2500, 5200), rng.uniform(1500, 2499, n)],
        rng.uniform(500, 1499, n),
    )
    birth_weight = np.where(newborn, np.round(grams, -1), 0).astype(int)

    mean = (np.array(_LOS_SEVERITY)[severity - 1] * np.array(_LOS_AGE)[age]
            * np.array([_LOS_TYPE[t] for t in ADMISSION_TYPES])[kind] * _mdc_column(3)[mdc]
            * np.where(surgical, _LOS_SURGICAL, 1.0) * np.array(_LOS_ROM)[rom - severity + 3])
    newborn_mean = np.array(_NEWBORN_LOS)[band] * np.array(_NEWBORN_LOS_SEVERITY)[severity - 1]
    mean = np.round(np.where(newborn, newborn_mean, mean), 4)  # few distinct: cheap truth
    sigma = np.array(LOS_SIGMA)[severity - 1]
    stay = mean * np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)
    return dict(age=age, mdc=mdc, kind=kind, severity=severity, rom=rom, surgical=surgical,
                birth_weight=birth_weight, los=np.clip(np.round(stay), 1, 120).astype(int),
                los_expected=_expected_los(mean, sigma))


def _categorical(labels: Sequence[object], codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(labels))


def _choice(rng: np.random.Generator, weighted: Sequence[tuple[str, float]], n: int
            ) -> pd.Categorical:
    labels, weights = zip(*weighted, strict=True)
    return _categorical(labels, rng.choice(len(labels), n, p=np.array(weights) / sum(weights)))


def _formatted(values: np.ndarray, form: str) -> pd.Categorical:
    """Integers as SPARCS text (few distinct values, so format each once)."""
    unique, inverse = np.unique(values, return_inverse=True)
    return _categorical([form.format(v) for v in unique], inverse)


def _sparcs_frame(rng: np.random.Generator, pt: dict[str, np.ndarray], discharge_year: np.ndarray
                  ) -> pd.DataFrame:
    """The SPARCS 2015 columns of the patients `pt`, in SPARCS value formats."""
    n = pt["los"].size
    age, mdc, kind, severity, rom = pt["age"], pt["mdc"], pt["kind"], pt["severity"], pt["rom"]
    surgical, los = pt["surgical"], pt["los"]
    dx = {field: np.zeros(26, dtype=object) for field in range(8)}
    for code, row in _DX.items():
        for field, value in enumerate(row):
            dx[field][code] = value
    medical_procedure = rng.random(n) < 0.6

    p_male = np.select([np.isin(mdc, (13, 14)), mdc == 12, mdc == NEWBORN], [0.0, 1.0, 0.512],
                       0.46)
    sex = np.where(rng.random(n) < 0.0002, 2, (rng.random(n) < p_male).astype(int))

    ed_p = np.array([{"Emergency": .93, "Trauma": .95, "Urgent": .3, "Elective": .02}.get(t, 0)
                     for t in ADMISSION_TYPES])[kind]
    ed = rng.random(n) < ed_p

    daily_charge = (2600 * (1 + 0.25 * (severity - 1)) * np.where(surgical, 1.4, 1.0)
                    * rng.lognormal(0, 0.3, n))
    charges = (los * daily_charge + surgical * 15000 * rng.lognormal(0, 0.5, n) + ed * 1800)
    costs = charges * 0.36 * rng.lognormal(0, 0.2, n)

    psychiatric = np.isin(mdc, (19, 20))
    disposition = np.column_stack([
        np.zeros(n),  # home or self care: the remainder
        np.where(age >= 3, 0.18, 0.04),
        np.select([age == 4, age == 3], [0.18, 0.06], 0.005) * np.minimum(1 + los / 10, 3),
        np.array([0.001, 0.004, 0.02, 0.12])[rom - 1] * np.where(age == 4, 1.4, 1.0)
        * np.where(mdc == NEWBORN, 0.2, 1.0),
        np.where(psychiatric, 0.08, 0.01),
        np.full(n, 0.02),
        np.where(np.isin(mdc, (1, 8, 25)) & (age >= 3), 0.05, 0.004),
        np.where(psychiatric, 0.05, 0.001),
        np.where(rom == 4, 0.04, 0.001),
    ])
    disposition *= np.minimum(1.0, 0.9 / disposition.sum(axis=1, keepdims=True))
    disposition[:, 0] = 1 - disposition.sum(axis=1)

    payer = _draw(rng, np.array(_PAYER_BY_AGE)[age] / np.sum(_PAYER_BY_AGE, axis=1)[age, None])
    blank_or_payer = ("", *_PAYERS)
    licences = [str(v) for v in rng.integers(100_000, 99_999_999, 300)]
    surgeons = rng.integers(0, 60, n) + 1
    columns = {
        **{name: _categorical([value], np.zeros(n, dtype=int)) if isinstance(value, str)
           else np.full(n, value) for name, value in _FACILITY.items()},
        "Age Group": _categorical(AGE_GROUPS, age),
        "Zip Code - 3 digits": _categorical(_ZIPS, rng.integers(0, len(_ZIPS), n)),
        "Gender": _categorical(("F", "M", "U"), sex),
        "Race": _choice(rng, _RACES, n),
        "Ethnicity": _choice(rng, _ETHNICITIES, n),
        "Length of Stay": _categorical([*map(str, range(1, 120)), "120 +"], los - 1),
        "Type of Admission": _categorical(ADMISSION_TYPES, kind),
        "Patient Disposition": _categorical(_DISPOSITIONS, _draw(rng, disposition)),
        "Discharge Year": discharge_year,
        "CCS Diagnosis Code": dx[0][mdc].astype(int),
        "CCS Diagnosis Description": pd.Categorical(dx[1][mdc]),
        "CCS Procedure Code": np.where(surgical, dx[4][mdc],
                                       np.where(medical_procedure, 0, 231)).astype(int),
        "CCS Procedure Description": pd.Categorical(np.where(
            surgical, dx[5][mdc],
            np.where(medical_procedure, "NO PROC", "OTHER THERAPEUTIC PROCEDURES"))),
        "APR DRG Code": np.where(surgical, dx[6][mdc], dx[2][mdc]).astype(int),
        "APR DRG Description": pd.Categorical(np.where(surgical, dx[7][mdc], dx[3][mdc])),
        "APR MDC Code": mdc,
        "APR MDC Description": pd.Categorical(_mdc_column(0)[mdc]),
        "APR Severity of Illness Code": severity,
        "APR Severity of Illness Description": _categorical(SEVERITY_NAMES, severity - 1),
        "APR Risk of Mortality": _categorical(SEVERITY_NAMES, rom - 1),
        "APR Medical Surgical Description": _categorical(("Medical", "Surgical"),
                                                         surgical.astype(int)),
        "Payment Typology 1": _categorical(_PAYERS, payer),
        "Payment Typology 2": _categorical(blank_or_payer, np.where(
            rng.random(n) < 0.45, 0, rng.integers(1, len(blank_or_payer), n))),
        "Payment Typology 3": _categorical(blank_or_payer, np.where(
            rng.random(n) < 0.80, 0, rng.integers(1, len(blank_or_payer), n))),
        "Attending Provider License Number": _categorical(licences, rng.integers(0, 300, n)),
        "Operating Provider License Number": _categorical(
            ["", *licences], np.where(surgical, surgeons, 0)),
        "Other Provider License Number": _categorical(["", *licences], np.where(
            rng.random(n) < 0.15, rng.integers(1, 301, n), 0)),
        "Birth Weight": _formatted(pt["birth_weight"], "{:04d}"),
        "Emergency Department Indicator": _categorical(("N", "Y"), ed.astype(int)),
        "Total Charges": np.round(charges, 2),
        "Total Costs": np.round(costs, 2),
    }
    return pd.DataFrame({name: columns[name] for name in SPARCS_2015_COLUMNS})


# --- the calendar: daily means by ward, counts, and records that add up to them ---

def _profiles(dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Relative daily level (mean 1 over `dates`) of the non-elective stream of each ward
    (days x wards) and of the elective stream (days)."""
    years = range(dates[0].year - 1, dates[-1].year + 1)
    off = holidays.country_holidays("US", subdiv="NY", years=years)
    days = dates.date
    on = np.array([d in off for d in days])
    after = np.array([d - dt.timedelta(days=1) in off for d in days]) & ~on

    def holiday(stream: str) -> np.ndarray:
        on_day, day_after = _HOLIDAY[stream]
        return np.select([on, after], [on_day, day_after], 1.0)

    theta = 2 * np.pi * (dates.day_of_year.to_numpy() - _SEASON_PEAK_DAY) / 365.25
    cycle = np.cos(theta) + 0.25 * np.cos(2 * theta)
    amplitude = np.array([_SEASON[w] for w in WARDS])
    emergency = (np.array(_EMERGENCY_WEEKDAY)[dates.day_of_week][:, None]
                 * np.exp(amplitude[None, :] * cycle[:, None]) * holiday("emergency")[:, None])
    elective = np.array(_ELECTIVE_WEEKDAY, dtype=float)[dates.day_of_week] * holiday("elective")
    return emergency / emergency.mean(axis=0), elective / elective.mean()


def generate(years: int = 3, seed: int = 2015, start: str = "2015-01-01") -> SyntheticHistory:
    """`years` of admissions to the five wards from `start`; deterministic for a seed."""
    if years < 1:
        raise ValueError(f"years must be >= 1, not {years}")
    first = pd.Timestamp(start)
    dates = pd.date_range(first, first + pd.DateOffset(years=years) - pd.Timedelta(days=1),
                          freq="D", unit="ns")
    counts_rng, records_rng = (np.random.default_rng(s)
                               for s in np.random.SeedSequence(seed).spawn(2))
    mix = _case_mix()
    is_elective = mix.kind == ADMISSION_TYPES.index("Elective")

    emergency, elective = _profiles(dates)
    wards = np.arange(len(WARDS))
    rate = {stream: np.array([mix.p[(mix.ward == w) & (is_elective == stream)].sum()
                              for w in wards]) * DAILY_ADMISSIONS for stream in (False, True)}
    mean_elective = rate[True][None, :] * elective[:, None]
    mean = rate[False][None, :] * emergency + mean_elective
    counts = counts_rng.negative_binomial(NB_SIZE, NB_SIZE / (NB_SIZE + mean))
    electives = counts_rng.binomial(counts, mean_elective / mean)

    cells, day_of, ward_of = [], [], []
    for w in wards:
        for stream, n_day in ((False, counts[:, w] - electives[:, w]), (True, electives[:, w])):
            group = np.flatnonzero((mix.ward == w) & (is_elective == stream))
            p = mix.p[group] / mix.p[group].sum()
            cells.append(records_rng.choice(group, n_day.sum(), p=p))
            day_of.append(np.repeat(np.arange(dates.size), n_day))
            ward_of.append(np.full(n_day.sum(), w))
    cell, day, ward = (np.concatenate(parts) for parts in (cells, day_of, ward_of))
    shuffle = records_rng.permutation(cell.size)
    order = shuffle[np.lexsort((ward[shuffle], day[shuffle]))]
    cell, day, ward = cell[order], day[order], ward[order]

    patients = _patients(records_rng, mix, cell)
    discharged = dates[day] + pd.to_timedelta(patients["los"], unit="D")
    records = _sparcs_frame(records_rng, patients, discharged.year.to_numpy())
    records["Admission Date"] = np.array(dates.strftime("%Y-%m-%d"), dtype=object)[day]
    records["Unit"] = _categorical(WARDS, ward)

    grid = {"date": np.repeat(dates, wards.size),
            "unit": _categorical(WARDS, np.tile(wards, dates.size))}
    return SyntheticHistory(
        records=records,
        daily=pd.DataFrame({**grid, "admissions": counts.ravel().astype(np.int64)}),
        expected=pd.DataFrame({**grid, "expected": mean.ravel()}),
        los_expected=pd.Series(patients["los_expected"], index=records.index,
                               name="los_expected"),
    )


def generate_records(n: int, seed: int = 2015) -> pd.DataFrame:
    """`n` records in the SPARCS 2015 layout only (no calendar, no extension columns), drawn
    from the same case mix: a stand-in for a full SPARCS release (discharge year 2015)."""
    rng = np.random.default_rng(seed)
    mix = _case_mix()
    patients = _patients(rng, mix, rng.choice(mix.p.size, n, p=mix.p))
    return _sparcs_frame(rng, patients, np.full(n, 2015))
