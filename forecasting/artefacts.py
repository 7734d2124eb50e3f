"""Trained LOS models on disk: a directory of files and a manifest that says what made them.

The manifest records the data hash, features, parameters, metrics and library versions, and
a SHA-256 of every stored file; `load` checks them all before reading anything, so a model
trained on other data, with other features or by an incompatible library, or a file changed
since it was written, is refused rather than silently used. A manifest with a field missing
or unknown, or a file list other than its kind's, is refused too (the cache then rebuilds).

Trust model: nothing stored here is code. A model is JSON (its parameters and feature
encoding) plus plain numeric arrays (`.npz` read with pickling off): the ridge's
coefficients, each random-forest tree's node table (checked to be a tree before
scikit-learn reads it) and the residual bins; an XGBoost booster is its native JSON. The
hashes catch corruption and edits, not someone who can also rewrite the manifest; such a
person can make the simulator's stays wrong, but cannot make loading run their code. Cached
tables (`cached_table`, the forecast backtest) are checked the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor
from sklearn.tree._tree import Tree

from forecasting.los_models import LosRegressor, _Column, library_versions

MANIFEST = "manifest.json"
FORMAT = 2
"""Version of the stored layout; 1 (pickled with joblib) is never read again."""
MODEL_FILE = "model.json"
"""The LosRegressor's parameters, feature encoding and metadata."""
ARRAYS_FILE = "arrays.npz"
"""Residual bins and, for linear and random_forest, the fitted estimator as arrays."""
BOOSTER_FILE = "booster.json"
CHECKED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "xgboost")
"""A different major version of any of these may not read (or may misread) the files."""
MANIFEST_FIELDS = frozenset({
    "format", "kind", "features", "use_leakage", "parameters", "training_rows",
    "top_coded_share", "admission_dates", "library_versions", "data_hash", "key",
    "key_parts", "saved", "files",
})
OPTIONAL_FIELDS = frozenset({"metrics"})
FITTED = ("bin_edges_", "residuals_", "bin_offsets_")


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
    arrays = {name: getattr(model, name) for name in FITTED}
    estimator = model.estimator_
    if isinstance(estimator, xgboost.XGBRegressor):
        estimator.save_model(staging / BOOSTER_FILE)
    elif isinstance(estimator, Ridge):
        arrays |= {"coef": estimator.coef_, "intercept": np.asarray(estimator.intercept_)}
    else:
        for i, tree in enumerate(estimator.estimators_):
            state = tree.tree_.__getstate__()
            arrays |= {f"tree{i}_nodes": state["nodes"], f"tree{i}_values": state["values"]}
        arrays["tree_depths"] = np.array([t.tree_.max_depth for t in estimator.estimators_])
    np.savez(staging / ARRAYS_FILE, **arrays)
    (staging / MODEL_FILE).write_text(json.dumps({
        "params": model.get_params(), "metadata": model.metadata,
        "columns": [[c.name, c.levels, c.fill] for c in model.columns_],
        "n_features": int(estimator.n_features_in_),
    }))
    manifest = {
        **model.metadata,
        "format": FORMAT,
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
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtefactError(f"{path} is not valid JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise ArtefactError(f"{path} is not a manifest")
    return manifest


def load(directory: str | Path, *, data_hash: str | None = None,
         features: Sequence[str] | None = None) -> LosRegressor:
    """The model saved in `directory`, once its manifest checks out: its fields and files,
    every file's hash, the major versions of CHECKED_LIBRARIES and, when given, the data
    hash and the features."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = _manifest_problems(manifest)
    if problems:
        raise ArtefactError(f"refusing the model in {directory}: " + "; ".join(problems))
    problems = _file_problems(directory, manifest["files"])
    now = library_versions()
    for library in CHECKED_LIBRARIES:
        saved = str(manifest["library_versions"].get(library))
        if saved.split(".")[0] != now[library].split(".")[0]:
            problems.append(f"saved with {library} {saved}, running {now[library]}")
    if data_hash is not None and manifest["data_hash"] != data_hash:
        problems.append(f"trained on data {str(manifest['data_hash'])[:12]}…, "
                        f"expected {data_hash[:12]}…")
    if features is not None and list(features) != manifest["features"]:
        problems.append(f"features {manifest['features']}, expected {list(features)}")
    if problems:
        raise ArtefactError(f"refusing the model in {directory}: " + "; ".join(problems))
    try:
        return _read_model(directory, manifest["kind"])
    except (KeyError, IndexError, TypeError, ValueError, OSError) as error:
        raise ArtefactError(f"refusing the model in {directory}: malformed ({error})") from None


def cached(key_parts: dict, build: Callable[[], LosRegressor],
           directory: str | Path | None = None) -> LosRegressor:
    """The model stored under `key_parts` (everything it depends on: conventionally
    {"data_hash": data_hash(records), **settings}), built, saved and returned if absent.

    A stored model that no longer loads (a library upgrade, a changed file, an older
    layout) is rebuilt, with a warning saying why.
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


def cached_table(folder: str, key_parts: dict, build: Callable[[], pd.DataFrame],
                 dtype: dict[str, Any] | None = None) -> pd.DataFrame:
    """A table kept in the cache under `folder`: a CSV beside a manifest holding its key and
    SHA-256, read only when both match (else rebuilt and stored again, with a warning)."""
    key = key_hash(key_parts)
    base = cache_directory() / folder / key[:24]
    table, manifest = base.with_suffix(".csv"), base.with_suffix(".json")
    if manifest.is_file():
        try:
            found = json.loads(manifest.read_text())
            if not isinstance(found, dict) or set(found) != {"key", "sha256"}:
                raise ArtefactError("its manifest is not {key, sha256}")
            if found["key"] != key or not table.is_file() or _sha256(table) != found["sha256"]:
                raise ArtefactError("it is another key's, missing or changed since written")
            return pd.read_csv(table, dtype=dtype)
        except (ArtefactError, ValueError, OSError) as error:
            warnings.warn(f"rebuilding the cached {table.name}: {error}", stacklevel=2)
    frame = build()
    base.parent.mkdir(parents=True, exist_ok=True)
    for path, write in ((table, lambda p: frame.to_csv(p, index=False)),
                        (manifest, lambda p: p.write_text(json.dumps(
                            {"key": key, "sha256": _sha256(table)})))):
        partial = path.with_suffix(".tmp")
        write(partial)
        partial.replace(path)  # never a half-written cache file
    return frame


def _manifest_problems(manifest: dict) -> list[str]:
    """What makes a manifest unreadable as this version's: fields, format, the file list."""
    missing = sorted(MANIFEST_FIELDS - set(manifest))
    unknown = sorted(set(manifest) - MANIFEST_FIELDS - OPTIONAL_FIELDS)
    if missing or unknown:
        return [f"manifest fields missing {missing}, unknown {unknown}"]
    if manifest["format"] != FORMAT:
        return [f"stored in format {manifest['format']!r}, this hospsim reads {FORMAT}"]
    files, kind = manifest["files"], manifest["kind"]
    expected = {MODEL_FILE, ARRAYS_FILE} | ({BOOSTER_FILE} if kind == "xgboost" else set())
    if not isinstance(files, dict) or set(files) != expected:
        return [f"files must be exactly {sorted(expected)} for a {kind!r} model"]
    if not isinstance(manifest["library_versions"], dict):
        return ["library_versions is not a mapping"]
    return []


def _file_problems(directory: Path, files: dict) -> list[str]:
    problems = []
    for name, digest in files.items():
        path = directory / name
        if not path.is_file() or path.is_symlink():
            problems.append(f"{name} is missing")
        elif _sha256(path) != digest:
            problems.append(f"{name} has changed since it was saved (SHA-256 differs)")
    return problems


def _read_model(directory: Path, kind: str) -> LosRegressor:
    """The model from its JSON and arrays; every array checked for shape before use."""
    stored = json.loads((directory / MODEL_FILE).read_text())
    model = LosRegressor(**stored["params"])
    if model.kind != kind:
        raise ValueError(f"model.json is a {model.kind!r} model, the manifest says {kind!r}")
    model.columns_ = [_Column(str(name), None if levels is None else tuple(map(str, levels)),
                              float(fill)) for name, levels, fill in stored["columns"]]
    model.metadata = stored["metadata"]
    n_features = int(stored["n_features"])
    with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
        for name in FITTED:
            setattr(model, name, arrays[name])
        _check_bins(model)
        if kind == "xgboost":
            model.estimator_ = xgboost.XGBRegressor(n_jobs=model.n_jobs)
            model.estimator_.load_model(directory / BOOSTER_FILE)
        elif kind == "linear":
            model.estimator_ = _ridge(arrays["coef"], arrays["intercept"], n_features)
        else:
            model.estimator_ = _forest(arrays, n_features, model.n_jobs)
    return model


def _check_bins(model: LosRegressor) -> None:
    offsets, edges = model.bin_offsets_, model.bin_edges_
    if (offsets.ndim != 1 or offsets.size != edges.size + 2 or offsets[0] != 0
            or offsets[-1] != model.residuals_.size or np.any(np.diff(offsets) < 0)):
        raise ValueError("residual bins do not fit together")


def _ridge(coef: np.ndarray, intercept: np.ndarray, n_features: int) -> Ridge:
    if coef.shape != (n_features,) or intercept.shape != ():
        raise ValueError(f"ridge coefficients of shape {coef.shape}, expected ({n_features},)")
    ridge = Ridge()
    ridge.coef_, ridge.intercept_, ridge.n_features_in_ = coef, float(intercept), n_features
    return ridge


def _forest(arrays: Any, n_features: int, n_jobs: int) -> RandomForestRegressor:
    """A fitted forest from node tables, each checked to be a tree over `n_features`
    features (children after their parent, in range) so scikit-learn never reads outside."""
    depths = arrays["tree_depths"]
    trees = []
    for i, depth in enumerate(depths.astype(int)):
        nodes, values = arrays[f"tree{i}_nodes"], arrays[f"tree{i}_values"]
        _check_tree(nodes, values, n_features)
        tree = Tree(n_features, np.array([1], dtype=np.intp), 1)
        tree.__setstate__({"max_depth": min(max(depth, 0), nodes.size), "node_count":
                           nodes.size, "nodes": nodes, "values": values})  # checks the dtype
        estimator = DecisionTreeRegressor()
        estimator.tree_, estimator.n_outputs_ = tree, 1
        estimator.n_features_in_ = estimator.max_features_ = n_features
        trees.append(estimator)
    if not trees:
        raise ValueError("a forest without trees")
    forest = RandomForestRegressor(n_jobs=n_jobs)
    forest.estimators_, forest.estimator_ = trees, DecisionTreeRegressor()
    forest.n_features_in_, forest.n_outputs_ = n_features, 1
    return forest


def _check_tree(nodes: np.ndarray, values: np.ndarray, n_features: int) -> None:
    if (nodes.ndim != 1 or nodes.dtype.names is None or values.shape != (nodes.size, 1, 1)
            or values.dtype != np.float64):
        raise ValueError("a tree's node table or values have the wrong shape")
    index = np.arange(nodes.size)
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    leaf = left == -1
    if not (np.all(right[leaf] == -1)
            and np.all((left[~leaf] > index[~leaf]) & (left[~leaf] < nodes.size))
            and np.all((right[~leaf] > index[~leaf]) & (right[~leaf] < nodes.size))
            and np.all((feature[~leaf] >= 0) & (feature[~leaf] < n_features))):
        raise ValueError("a tree's node table is not a tree over the model's features")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "ArtefactError", "cache_directory", "cached", "cached_table", "data_hash", "key_hash",
    "load", "read_manifest", "save",
]
