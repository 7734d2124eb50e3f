"""OpenMP's waiting policy for the trained models, set when training starts, never at import.

XGBoost's OpenMP threads spin while waiting; on a busy 2-core machine that made training ten
times slower. Passive waiting costs nothing when the machine is idle. OpenMP reads the
setting once, when it is loaded (the first import of xgboost or of scikit-learn's compiled
parts), so everything that trains calls `passive_openmp` before importing them; processes
started afterwards (workers, benchmark stages) inherit it.
"""

from __future__ import annotations

import os


def passive_openmp() -> None:
    """Ask OpenMP to let idle threads sleep (`OMP_WAIT_POLICY=PASSIVE`), unless the user
    chose a policy; to take effect, call before xgboost or scikit-learn is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
