"""Trained LOS models on disk: a directory of files and a manifest that says what made them.

The manifest records the data hash, features, parameters, metrics and library versions, and
a SHA-256 of every stored file; `load` checks them all before unpickling anything, so a
model trained on other data, with other features or by an incompatible library, or a file
changed since it was written, is refused rather than silently used.

Trust model: the model object (and a scikit-learn estimator) is stored with joblib, i.e.
pickle, and unpickling runs code. The hashes catch corruption and edits, not an attacker who
can also rewrite the manifest: only load artefacts you made. XGBoost boosters are stored in
their native JSON, which later XGBoost versions can read.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import joblib
import pandas as pd
import xgboost

from forecasting.los_models import LosRegressor, library_versions

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
"""The LosRegressor without its estimator: encoding, residual bins, metadata."""
BOOSTER_FILE = "booster.json"
ESTIMATOR_FILE = "estimator.joblib"
CHECKED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "xgboost")
"""A different major version of any of these may not read (or may misread) the files."""


class ArtefactError(ValueError):
    """A stored model that must not be used: missing, tampered or not the one asked for."""


def cache_directory() -> Path:
    """Where `cached` keeps models: $HOSPSIM_CACHE, else ~/.cache/hospsim."""
    return Path(os.environ.get("HOSPSIM_CACHE") or Path.home() / ".cache" / "hospsim")


def data_hash(records: pd.DataFrame) -> str:
    """SHA-256 of the records' column names, dtypes and values (row order included)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[c, str(t)] for c, t in records.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(records, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def key_hash(key_parts: dict) -> str:
    """SHA-256 of the key's canonical JSON (values must be JSON: str, numbers, lists...)."""
    return hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()


def save(model: LosRegressor, directory: str | Path, *, data_hash: str,
         key_parts: dict | None = None) -> Path:
    """Write `model` and its manifest to `directory` (replaced whole, never half-written)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    shell = copy.copy(model)
    shell.estimator_ = None
    joblib.dump(shell, staging / MODEL_FILE)
    if isinstance(model.estimator_, xgboost.XGBRegressor):
        model.estimator_.save_model(staging / BOOSTER_FILE)
    else:
        joblib.dump(model.estimator_, staging / ESTIMATOR_FILE)
    manifest = {
        **model.metadata,
        "library_versions": library_versions(),
        "data_hash": data_hash,
        "key": key_hash(key_parts) if key_parts is not None else None,
        "key_parts": key_parts,
        "saved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {p.name: _sha256(p) for p in sorted(staging.iterdir())},
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)
    return directory


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtefactError(f"{path} does not exist: {directory} holds no saved model")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ArtefactError(f"{path} is not valid JSON ({error})") from error


def load(directory: str | Path, *, data_hash: str | None = None,
         features: Sequence[str] | None = None) -> LosRegressor:
    """The model saved in `directory`, once its manifest checks out: every file's hash, the
    major versions of CHECKED_LIBRARIES and, when given, the data hash and the features."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = []
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif _sha256(path) != digest:
            problems.append(f"{name} has changed since it was saved (SHA-256 differs)")
    now = library_versions()
    for library in CHECKED_LIBRARIES:
        saved = manifest["library_versions"][library]
        if saved.split(".")[0] != now[library].split(".")[0]:
            problems.append(f"saved with {library} {saved}, running {now[library]}")
    if data_hash is not None and manifest["data_hash"] != data_hash:
        problems.append(f"trained on data {manifest['data_hash'][:12]}…, "
                        f"expected {data_hash[:12]}…")
    if features is not None and list(features) != manifest["features"]:
        problems.append(f"features {manifest['features']}, expected {list(features)}")
    if problems:
        raise ArtefactError(f"refusing the model in {directory}: " + "; ".join(problems))
    model = joblib.load(directory / MODEL_FILE)
    if BOOSTER_FILE in manifest["files"]:
        model.estimator_ = xgboost.XGBRegressor(n_jobs=model.n_jobs)
        model.estimator_.load_model(directory / BOOSTER_FILE)
    else:
        model.estimator_ = joblib.load(directory / ESTIMATOR_FILE)
    return model


def cached(key_parts: dict, build: Callable[[], LosRegressor],
           directory: str | Path | None = None) -> LosRegressor:
    """The model stored under `key_parts` (everything it depends on: conventionally
    {"data_hash": data_hash(records), **settings}), built, saved and returned if absent.

    A stored model that no longer loads (a library upgrade, a changed file) is rebuilt, with
    a warning saying why.
    """
    if "data_hash" not in key_parts:
        raise KeyError("key_parts needs 'data_hash': a cached model is only as good as its data")
    key = key_hash(key_parts)
    path = Path(directory or cache_directory()) / key[:24]
    if (path / MANIFEST).is_file():
        try:
            if read_manifest(path).get("key") != key:
                raise ArtefactError(f"{path} holds a model for another key")
            return load(path, data_hash=key_parts["data_hash"])
        except ArtefactError as error:
            warnings.warn(f"rebuilding the cached model: {error}", stacklevel=2)
    model = build()
    save(model, path, data_hash=key_parts["data_hash"], key_parts=key_parts)
    return model


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "ArtefactError", "cache_directory", "cached", "data_hash", "key_hash", "load",
    "read_manifest", "save",
]
