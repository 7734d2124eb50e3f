"""Trained models for a scenario: built once, cached on disk, loaded by every worker.

A scenario whose `los.model` is `linear`, `random_forest` or `xgboost` gets a LOS model
trained on `los.data` (a SPARCS CSV) or on the built-in synthetic history, with the features
every simulated patient has. The cache key is the training data's hash plus the settings,
so a changed file or setting trains anew and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from experiments.trained.openmp import passive_openmp
from scenarios.schema import TRAINED_LOS, Scenario
from simulator import LosModel

SYNTHETIC = {"years": 3, "seed": 2015, "start": "2015-01-01"}


def los_model_for(scenario: Scenario) -> LosModel | None:
    """The scenario's trained LOS model, or None when its LOS model is parametric."""
    spec = scenario.los
    if spec.model not in TRAINED_LOS:
        return None
    return _trained(spec.model, spec.data)


@cache  # one load per process: workers share the artefact the first call cached
def _trained(kind: str, data: str | None) -> LosModel:
    passive_openmp()
    # imported here: a study of parametric scenarios never pays for sklearn and xgboost
    from forecasting.artefacts import cached, data_hash
    from forecasting.los_models import LosRegressor
    from forecasting.records import SIMULATOR_FEATURES
    from forecasting.sparcs import load_sparcs, normalise_sparcs
    from forecasting.synthetic import generate

    if data is None:
        records = normalise_sparcs(generate(**SYNTHETIC).records).records
        source = {"synthetic": SYNTHETIC, "records_sha256": data_hash(records)}
    else:
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"los.data: no such file {data!r}")
        records = None
        source = {"file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}

    def build() -> LosModel:
        rows = records if records is not None else load_sparcs(data).records
        return LosRegressor(kind, features=SIMULATOR_FEATURES).fit(rows)

    key = {"data_hash": source.get("records_sha256") or source["file_sha256"], "kind": kind,
           "features": list(SIMULATOR_FEATURES), "source": source}
    return cached(key, build)
