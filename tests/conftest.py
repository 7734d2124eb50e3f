"""Shared pytest configuration: the `slow` marker.

`slow` marks whole studies, CLI and report runs, Dask, simulations checked against queueing
theory over thousands of days, and long hypothesis searches. The inner loop skips them:

    pytest -m "not slow"     # the fast tests of every module
    pytest                   # everything: the README's command, and CI's

Mark a test slow when it takes more than about 5 s on an idle 2-core machine
(`pytest -m "not slow" --durations=15` shows the candidates), and leave its module some fast
tests where it can.
"""


def pytest_configure(config):
    # pyproject.toml declares it; this keeps it registered if pytest runs with another
    # configuration file (`-c`).
    if not any(line.startswith("slow:") for line in config.getini("markers")):
        config.addinivalue_line(
            "markers", "slow: end-to-end or statistical test; deselect with -m 'not slow'"
        )


def snapshot(folder) -> dict[str, bytes]:
    """Every file under `folder` (symlinks not followed) and its bytes: equal snapshots
    before and after a command mean it changed nothing there."""
    from pathlib import Path

    root = Path(folder)
    return {str(p.relative_to(root)): b"<symlink>" if p.is_symlink() else p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}
