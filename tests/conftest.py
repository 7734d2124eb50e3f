"""Shared test setup."""

import sys
from pathlib import Path

# Let `pytest` import the packages from a checkout that is not pip-installed
# (an installed copy, editable or not, is found the same way).
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
