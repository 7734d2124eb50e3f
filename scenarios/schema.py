"""The scenario schema: everything a simulated hospital study is, validated by pydantic.

Field names are what users write in YAML, so they are short and plain. Every model forbids
unknown keys, so a typo is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from scenarios.limits import beyond

SEVERITIES = ("minor", "moderate", "major", "extreme")
AGE_GROUPS = ("0 to 17", "18 to 29", "30 to 49", "50 to 69", "70 or Older")
ADMISSION_TYPES = ("Emergency", "Elective", "Urgent", "Newborn", "Trauma")
RESERVED_UNIT_NAMES = ("hold", "divert")

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
SHARE_TOLERANCE = 1e-6


def _sums_to_one(shares: dict[str, float]) -> dict[str, float]:
    if not shares:
        raise ValueError("needs at least one share")
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares must sum to 1 (they sum to {total:.6g})")
    return shares


def _keys_within(allowed: tuple[str, ...]):
    def check(mapping: dict[str, Any]) -> dict[str, Any]:
        unknown = [key for key in mapping if key not in allowed]
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}; expected one of {list(allowed)}")
        return mapping

    return check


def _profile(length: int):
    def check(values: list[float] | None) -> list[float] | None:
        if values is None:
            return None
        if len(values) != length:
            raise ValueError(f"needs exactly {length} values (got {len(values)})")
        if sum(values) <= 0:
            raise ValueError("needs at least one positive value")
        return values

    return check


def _within(name: str) -> AfterValidator:
    """At most the limit `name` (scenarios.limits: its unit, reason and how to raise it)."""

    def check(value: Any) -> Any:
        problem = beyond(name, value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _at_most(name: str) -> BeforeValidator:
    """A list of at most the limit `name` of items, checked before any item is validated."""

    def check(value: Any) -> Any:
        problem = beyond(name, len(value)) if isinstance(value, list) else None
        if problem:
            raise ValueError(problem)
        return value

    return BeforeValidator(check)


Shares = Annotated[dict[str, Probability], AfterValidator(_sums_to_one)]
SeverityShares = Annotated[Shares, AfterValidator(_keys_within(SEVERITIES))]
AgeShares = Annotated[Shares, AfterValidator(_keys_within(AGE_GROUPS))]
AdmissionShares = Annotated[Shares, AfterValidator(_keys_within(ADMISSION_TYPES))]
SeverityProbabilities = Annotated[
    dict[str, Probability], AfterValidator(_keys_within(SEVERITIES))
]
HourProfile = Annotated[list[NonNegative] | None, AfterValidator(_profile(24))]
WeekdayProfile = Annotated[list[NonNegative] | None, AfterValidator(_profile(7))]


class Strict(BaseModel):
    """Unknown keys are errors, and so are infinite and not-a-number values (`.inf`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Unit(Strict):
    """A ward, ICU or step-down unit: beds, staffing and which patients it serves."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
    kind: Literal["ward", "icu", "stepdown"] = "ward"
    beds: Annotated[int, Field(ge=0, description="physical beds"), _within("beds")]
    staffed: Annotated[int | None, Field(ge=0, description="default staffed beds")] = None
    nurse_ratio: Annotated[float, Field(gt=0, description="patients per nurse")] = 5.0
    agency_beds: Annotated[int, Field(ge=0), _within("agency_beds")] = Field(
        0, description="beds agency nurses can staff beyond the rostered nurses (at premium)"
    )
    specialties: list[str] = Field(
        default_factory=list, description="specialties it is home to; '*' for all"
    )
    age_groups: list[str] | None = Field(
        None, description="restrict to these SPARCS age groups (e.g. paediatrics)"
    )
    overflow_to: list[str] = Field(
        default_factory=list, description="units that may take its patients off-service"
    )

    @model_validator(mode="after")
    def _staffed_within_beds(self) -> Unit:
        if self.staffed is not None and self.staffed > self.beds:
            raise ValueError(f"staffed ({self.staffed}) exceeds physical beds ({self.beds})")
        if self.name in RESERVED_UNIT_NAMES:
            raise ValueError(f"unit name {self.name!r} is reserved")
        for age in self.age_groups or ():
            if age not in AGE_GROUPS:
                raise ValueError(f"unknown age group {age!r}; expected one of {list(AGE_GROUPS)}")
        return self

    @property
    def default_staffed(self) -> int:
        return self.beds if self.staffed is None else self.staffed

    @property
    def nurses(self) -> int:
        """Nurses rostered per shift: enough for the default staffed beds."""
        return math.ceil(self.default_staffed / self.nurse_ratio)


class Seasonality(Strict):
    """Annual cosine: rate x (1 + amplitude * cos(2 pi (day_of_year - peak_day) / 365.25))."""

    amplitude: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    peak_day: Annotated[int, Field(ge=1, le=366)] = 15


class HolidayEffect(Strict):
    """Public holidays (from the `holidays` package) multiply the day's arrival rate."""

    country: str = "US"
    subdivision: str | None = None
    multiplier: NonNegative = 1.0
    days_after_multiplier: NonNegative = 1.0


class ArrivalStream(Strict):
    """A non-homogeneous Poisson stream of admissions (or booked electives)."""

    name: str
    kind: Literal["emergency", "elective", "transfer"] = "emergency"
    daily_rate: Annotated[NonNegative, _within("daily_rate")]
    hour_profile: HourProfile = None
    weekday_profile: WeekdayProfile = None
    seasonality: Seasonality = Seasonality()
    holidays: HolidayEffect | None = None
    admission_type: AdmissionShares | None = None
    case_mix: CaseMixOverride | None = None
    max_deferral_days: Annotated[int, Field(ge=0)] = 14


class DiagnosisGroup(Strict):
    share: Probability
    specialty: str
    surgical: Probability = 0.0


def _diagnosis_shares(groups: dict[str, DiagnosisGroup]) -> dict[str, DiagnosisGroup]:
    _sums_to_one({name: group.share for name, group in groups.items()})
    return groups


DiagnosisGroups = Annotated[dict[str, DiagnosisGroup], AfterValidator(_diagnosis_shares)]


class CaseMix(Strict):
    """SPARCS-like patient attributes and the ICU pathway by severity."""

    age_group: AgeShares = {
        "0 to 17": 0.150, "18 to 29": 0.105, "30 to 49": 0.195,
        "50 to 69": 0.275, "70 or Older": 0.275,
    }
    diagnosis_group: DiagnosisGroups = {"other": DiagnosisGroup(share=1.0, specialty="*")}
    severity: SeverityShares = {"minor": 0.335, "moderate": 0.382, "major": 0.220, "extreme": 0.063}
    icu_probability: SeverityProbabilities = {
        "minor": 0.0, "moderate": 0.0, "major": 0.0, "extreme": 0.0
    }
    ventilation_probability: SeverityProbabilities = Field(
        default={"minor": 0.0, "moderate": 0.0, "major": 0.0, "extreme": 0.0},
        description="probability of ventilation given an ICU stay",
    )


class CaseMixOverride(Strict):
    """A partial case mix: fields given replace the scenario's (per stream or during a surge)."""

    age_group: AgeShares | None = None
    diagnosis_group: DiagnosisGroups | None = None
    severity: SeverityShares | None = None
    icu_probability: SeverityProbabilities | None = None
    ventilation_probability: SeverityProbabilities | None = None


PARAMETRIC_LOS = ("parametric", "lognormal", "exponential", "gamma", "fixed", "empirical")
"""'parametric' is the default parametric model: lognormal with means by severity."""
TRAINED_LOS = ("linear", "random_forest", "xgboost")


class LosSpec(Strict):
    """Length of stay (days): a parametric distribution with means by severity, or a model
    trained on inpatient records (`data`: a SPARCS CSV; default: the synthetic history)."""

    model: Literal[PARAMETRIC_LOS + TRAINED_LOS] = "lognormal"
    data: str | None = Field(
        None, description="SPARCS CSV to train a trained model on: a path relative to the "
        "scenario file, under its folder (or $HOSPSIM_SCENARIO_ROOTS)",
    )
    mean_days: Positive | dict[str, Positive] = Field(
        default={"minor": 2.9, "moderate": 4.8, "major": 8.2, "extreme": 14.2}
    )
    cv: Positive = Field(1.0, description="coefficient of variation (lognormal, gamma)")
    values: list[Positive] | None = Field(None, description="observed stays (empirical)")
    max_days: Positive = Field(120.0, description="stays are capped here (SPARCS top-codes 120)")

    @model_validator(mode="after")
    def _check(self) -> LosSpec:
        if isinstance(self.mean_days, dict):
            _keys_within(SEVERITIES)(self.mean_days)
            missing = [s for s in SEVERITIES if s not in self.mean_days]
            if missing:
                raise ValueError(f"mean_days lacks severities {missing}")
        if self.model == "empirical" and not self.values:
            raise ValueError("the empirical model needs 'values'")
        if self.data is not None and self.model not in TRAINED_LOS:
            raise ValueError(f"'data' trains a model: use model {' / '.join(TRAINED_LOS)}")
        return self

    def mean_for(self, severity: str) -> float:
        if isinstance(self.mean_days, dict):
            return float(self.mean_days[severity])
        return float(self.mean_days)


class Pathway(Strict):
    """How a stay with an ICU phase is split between units, and when patients go home."""

    icu_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    stepdown_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.15
    discharge_hour_profile: HourProfile = Field(
        None, description="relative share of discharges by hour; none = any hour"
    )

    @model_validator(mode="after")
    def _shares(self) -> Pathway:
        if self.icu_share + self.stepdown_share > 1.0 + SHARE_TOLERANCE:
            raise ValueError("icu_share + stepdown_share must not exceed 1")
        return self


class Boarding(Strict):
    """What happens to a patient with no bed: wait up to a limit, then off-service or divert."""

    limit_hours: NonNegative | None = Field(12.0, description="none = wait as long as it takes")
    on_limit: Literal["off_service", "divert"] = "off_service"
    target_hours: NonNegative = Field(4.0, description="time-to-bed target for the share KPI")


class Window(Strict):
    start_day: Annotated[float, Field(ge=0.0)]
    duration_days: Positive


class Surge(Window):
    """An event: arrivals multiplied (with a linear ramp in and out), a case-mix shift,
    and capacity shocks (staff off sick, ventilators out of service)."""

    name: str
    ramp_days: NonNegative = 0.0
    arrival_multiplier: NonNegative = 1.0
    streams: list[str] | None = Field(None, description="streams affected; none = all")
    case_mix: CaseMixOverride | None = None
    staff_availability: dict[str, Probability] = Field(
        default_factory=dict, description="share of each unit's nurses at work ('*' = all units)"
    )
    ventilators_out: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _ramp_fits(self) -> Surge:
        if 2 * self.ramp_days > self.duration_days + SHARE_TOLERANCE:
            raise ValueError("ramp in and out (2 x ramp_days) must fit within duration_days")
        return self


UNIT_KINDS = ("ward", "stepdown", "icu")
REMOVED_COSTS = {
    "staffed_bed_day": "removed: one price for every unit's bed-day became bed_day: {ward: "
    "..., stepdown: ..., icu: ...}, and nurse_shift prices nursing by each unit's nurse_ratio",
    "premium_bed_day": "removed: a premium (agency) bed-day costs premium_factor times the "
    "nursing it buys (times the whole bed_day when the table has no nurse_shift)",
}


def _removed(name: str) -> AfterValidator:
    def check(value: Any) -> Any:
        if value is not None:
            raise ValueError(REMOVED_COSTS[name])
        return value

    return AfterValidator(check)


class BedDayCosts(Strict):
    """What a staffed bed costs a day, by unit kind: everything but its nursing when the
    cost table gives `nurse_shift`, all-in otherwise. The defaults are the baseline
    hospital's all-in figures at its nurse ratios (its YAML cites the sources)."""

    ward: NonNegative = 3530.0
    stepdown: NonNegative = 3780.0
    icu: NonNegative = 5050.0


class Costs(Strict):
    """Prices for the cost KPI, one currency throughout (the built-in scenarios: US
    dollars, cited in `library/baseline.yaml`). Every consumer prices a unit's bed-days
    through `bed_day_cost` / `premium_bed_day_cost` and the whole run through
    `components`, so the KPI, the MILP, the breakeven view and the sensitivity table agree."""

    bed_day: BedDayCosts = BedDayCosts()
    nurse_shift: NonNegative | None = Field(
        None, description="one nurse for one shift, all-in (wages, benefits, paid time off); "
        "when set, a staffed bed-day costs bed_day[kind] + shifts_per_day x nurse_shift / "
        "nurse_ratio",
    )
    shifts_per_day: Annotated[int, Field(ge=1)] = 3
    premium_factor: Annotated[float, Field(ge=1.0)] = Field(
        1.5, description="agency (premium) cover costs this many times the nursing it buys; "
        "without nurse_shift, this many times the whole bed-day",
    )
    overflow_patient_day: NonNegative = Field(
        900.0, description="a patient-day off-service (in another unit's bed), on top of that bed"
    )
    diversion: NonNegative = Field(4500.0, description="a patient diverted elsewhere")
    icu_refusal: NonNegative = Field(
        20000.0, description="an ICU patient not given an ICU bed at once (boarded or elsewhere)"
    )
    elective_cancellation: NonNegative = 2700.0
    ventilator_shortfall_patient_day: NonNegative = 80000.0

    # removed fields, kept only to name their replacement at the line that uses them
    staffed_bed_day: SkipJsonSchema[Annotated[Any, _removed("staffed_bed_day")]] = Field(
        None, exclude=True, repr=False)
    premium_bed_day: SkipJsonSchema[Annotated[Any, _removed("premium_bed_day")]] = Field(
        None, exclude=True, repr=False)

    def nursing_day_cost(self, unit: Unit) -> float:
        """Nursing of one staffed bed of `unit` for a day (0 without `nurse_shift`)."""
        if self.nurse_shift is None:
            return 0.0
        return self.shifts_per_day * self.nurse_shift / unit.nurse_ratio

    def bed_day_cost(self, unit: Unit) -> float:
        """A staffed bed-day of `unit` on the roster."""
        return getattr(self.bed_day, unit.kind) + self.nursing_day_cost(unit)

    def premium_bed_day_cost(self, unit: Unit) -> float:
        """A staffed bed-day of `unit` beyond the roster (agency nurses)."""
        base = getattr(self.bed_day, unit.kind)
        if self.nurse_shift is None:
            return self.premium_factor * base
        return base + self.premium_factor * self.nursing_day_cost(unit)

    def overflow_bed_day_cost(self, unit: Unit, units: list[Unit]) -> float:
        """A bed-day where `unit`'s patients go when it is full: the first unit of its
        `overflow_to`, else a bed like its own."""
        named = {u.name: u for u in units}
        elsewhere = next((named[n] for n in unit.overflow_to if n in named), unit)
        return self.bed_day_cost(elsewhere)

    def excess_day_cost(self, unit: Unit, units: list[Unit]) -> float:
        """A patient-day of demand beyond `unit`'s staffed beds: a bed where it overflows
        plus the off-service penalty, or, in the ICU, plus an ICU refusal (a patient the ICU
        cannot take is one)."""
        penalty = self.icu_refusal if unit.kind == "icu" else self.overflow_patient_day
        return self.overflow_bed_day_cost(unit, units) + penalty

    def components(
        self, units: list[Unit], bed_days: dict[str, float], premium_bed_days: dict[str, float],
        offservice_days: float, diversions: float, icu_refusals: float,
        cancellations: float, ventilator_shortfall_days: float,
    ) -> dict[str, float]:
        """The cost KPIs of a run (`cost_staffing`, ..., not `cost_total`) from what it
        used: staffed and premium bed-days per unit (premium ones are part of the staffed),
        off-service patient-days, diversions, ICU refusals, cancellations and ventilator
        shortfall patient-days. Linear in every price."""
        staffing = 0.0
        for unit in units:
            staffed = bed_days.get(unit.name, 0.0)
            premium = premium_bed_days.get(unit.name, 0.0)
            staffing += ((staffed - premium) * self.bed_day_cost(unit)
                         + premium * self.premium_bed_day_cost(unit))
        return {
            "cost_staffing": staffing,
            "cost_overflow": offservice_days * self.overflow_patient_day,
            "cost_diversion": diversions * self.diversion,
            "cost_icu_refusal": icu_refusals * self.icu_refusal,
            "cost_cancellation": cancellations * self.elective_cancellation,
            "cost_ventilator_shortfall": ventilator_shortfall_days
            * self.ventilator_shortfall_patient_day,
        }


class ServiceLevels(Strict):
    """Targets a hospital must meet before cost matters: each is the most a KPI of that
    name may be (a share of patients, or a count). Policies staff to them and reports judge
    every policy against them; only a policy meeting them all can be named best."""

    icu_refusal_rate: Probability = Field(
        0.05, description="share of ICU requests not met by an ICU bed at once"
    )
    long_wait_share: Probability = Field(
        0.05, description="share of emergency patients waiting longer than boarding.target_hours"
    )
    elective_cancellation_rate: Probability = Field(
        0.01, description="share of booked electives cancelled (no bed, or deferred too often)"
    )
    ventilator_shortfall_patients: NonNegative = Field(
        0.0, description="patients who needed a ventilator and waited for one"
    )

    def targets(self) -> dict[str, float]:
        """KPI name -> the most it may be."""
        return self.model_dump()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as a formula at the start of a cell (OWASP's CSV rule)."""


def _not_a_formula(label: str | None) -> str | None:
    if label is not None and label.startswith(FORMULA_START):
        raise ValueError("must not start with =, +, -, @, tab or CR: in kpis.csv a spreadsheet "
                         "would run it as a formula")
    return label


class PolicySpec(Strict):
    name: str
    label: Annotated[str | None, AfterValidator(_not_a_formula)] = Field(
        None, description="how tables and reports name it")
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name


class InitialCensus(Strict):
    """Start with beds occupied (stay so far drawn from the stationary age distribution)."""

    census: dict[str, Annotated[int, Field(ge=0)]]


class Scenario(Strict):
    """One hospital, its demand and the policies to compare over replications."""

    name: str
    description: str = ""
    start_date: dt.date = dt.date(2025, 1, 1)
    horizon_days: Annotated[int, Field(ge=1), _within("horizon_days")] = 365
    warmup_days: Annotated[int, Field(ge=0), _within("warmup_days")] | Literal["auto"] = Field(
        28, description="days simulated before measuring; 'auto' chooses them by MSER-5"
    )
    seed: Annotated[int, Field(ge=0)] = 2026
    replications: Annotated[int, Field(ge=1), _within("replications")] = 10
    units: Annotated[list[Unit], Field(min_length=1), _at_most("units")]
    ventilators: Annotated[int, Field(ge=0), _within("ventilators")] = 0
    arrivals: Annotated[list[ArrivalStream], Field(min_length=1), _at_most("arrivals")]
    case_mix: CaseMix = CaseMix()
    los: LosSpec = LosSpec()
    pathway: Pathway = Pathway()
    boarding: Boarding = Boarding()
    initial: InitialCensus | None = None
    surges: Annotated[list[Surge], _at_most("surges")] = Field(default_factory=list)
    costs: Costs = Costs()
    service_levels: ServiceLevels = ServiceLevels()
    policies: Annotated[list[PolicySpec], Field(min_length=1), _at_most("policies")] = [
        PolicySpec(name="baseline")]

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        """Cross-field checks; each problem names its exact field path."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        names = [u.name for u in self.units]
        units = {u.name: u for u in reversed(self.units)}  # the first of a name
        for i, unit in enumerate(self.units):
            if units[unit.name] is not unit:
                problems.append((("units", i, "name"), f"duplicate unit name {unit.name!r}"))
            for j, target in enumerate(unit.overflow_to):
                if target not in units:
                    problems.append((
                        ("units", i, "overflow_to", j),
                        f"no unit named {target!r}{_suggest(target, names)}",
                    ))
        keys: set[str] = set()
        for i, policy in enumerate(self.policies):
            if policy.key in keys:
                problems.append((
                    ("policies", i), f"policy {policy.key!r} is listed twice; give one a 'label'"
                ))
            keys.add(policy.key)
        streams = [s.name for s in self.arrivals]
        stream_names = set(streams)
        for i, surge in enumerate(self.surges):
            for j, stream in enumerate(surge.streams or ()):
                if stream not in stream_names:
                    problems.append((
                        ("surges", i, "streams", j),
                        f"no arrival stream named {stream!r}{_suggest(stream, streams)}",
                    ))
            for unit in surge.staff_availability:
                if unit != "*" and unit not in units:
                    problems.append((
                        ("surges", i, "staff_availability", unit),
                        f"no unit named {unit!r}{_suggest(unit, names)}",
                    ))
        if self.initial:
            for unit, count in self.initial.census.items():
                if unit not in units:
                    problems.append((
                        ("initial", "census", unit),
                        f"no unit named {unit!r}{_suggest(unit, names)}",
                    ))
                elif count > units[unit].default_staffed:
                    problems.append((
                        ("initial", "census", unit),
                        f"{count} patients exceed the unit's {units[unit].default_staffed} "
                        "staffed beds",
                    ))
        problems += self._every_patient_has_a_home()
        if _needs_icu(self) and not any(u.kind == "icu" for u in self.units):
            problems.append((("case_mix", "icu_probability"), "ICU stays need a unit of kind icu"))
        if problems:
            raise ScenarioReferenceError(problems)
        return self

    def _every_patient_has_a_home(self) -> list[tuple[tuple[str | int, ...], str]]:
        groups = [(("case_mix", "diagnosis_group"), self.case_mix.diagnosis_group)]
        for field, items in (("arrivals", self.arrivals), ("surges", self.surges)):
            for i, item in enumerate(items):
                if item.case_mix and item.case_mix.diagnosis_group:
                    path = (field, i, "case_mix", "diagnosis_group")
                    groups.append((path, item.case_mix.diagnosis_group))
        problems = []
        for path, mix in groups:
            for dx, group in mix.items():
                homeless = [
                    a for a in AGE_GROUPS if home_unit(self.units, group.specialty, a) is None
                ]
                if homeless:
                    problems.append((
                        (*path, dx, "specialty"),
                        f"no ward or step-down unit serves specialty {group.specialty!r} "
                        f"for age group {homeless[0]!r}",
                    ))
        return problems

    def unit(self, name: str) -> Unit:
        for unit in self.units:
            if unit.name == name:
                return unit
        raise KeyError(name)

    @property
    def warmup(self) -> int:
        """Warm-up days to simulate; 'auto' must have been resolved (MSER-5) by then."""
        if self.warmup_days == "auto":
            raise ValueError(
                "warmup_days is 'auto': choose it first with "
                "experiments.study.warmup.resolve_warmup(scenario), or give a number of days"
            )
        return self.warmup_days


def _needs_icu(scenario: Scenario) -> bool:
    mixes = [scenario.case_mix.icu_probability]
    mixes += [s.case_mix.icu_probability for s in scenario.arrivals if s.case_mix]
    mixes += [s.case_mix.icu_probability for s in scenario.surges if s.case_mix]
    return any(p > 0 for mix in mixes if mix for p in mix.values())


def home_unit(units: list[Unit], specialty: str, age_group: str) -> int | None:
    """Index of the ward/step-down unit a patient of this specialty and age belongs to.

    Age-restricted units (paediatrics) win over general ones; then named specialties win
    over the '*' wildcard; then listing order.
    """
    best, best_rank = None, None
    for i, unit in enumerate(units):
        if unit.kind == "icu":
            continue
        if unit.age_groups is not None and age_group not in unit.age_groups:
            continue
        if specialty in unit.specialties:
            rank = (unit.age_groups is None, 0)
        elif "*" in unit.specialties:
            rank = (unit.age_groups is None, 1)
        else:
            continue
        if best_rank is None or rank < best_rank:
            best, best_rank = i, rank
    return best


class ScenarioReferenceError(Exception):
    """Cross-field problems, each with its field path (not a ValueError: pydantic must not
    swallow the paths into one model-level message)."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]):
        self.problems = problems
        super().__init__("; ".join(f"{format_path(p)}: {m}" for p, m in problems))


def format_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _suggest(word: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


ArrivalStream.model_rebuild()
