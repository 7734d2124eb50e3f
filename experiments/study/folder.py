"""Results folders hospsim owns: marked, locked, and never anyone else's files.

A run writes into `--out DIR` only when DIR is new, empty, or already a hospsim results
folder (it holds the MARKER); any other folder is refused unless the user passes
`--overwrite`, which lets hospsim write its own file names there (and replace those) but
still deletes nothing else. A sub-folder or file of hospsim's that is a symbolic link is
refused: writing through it would reach outside DIR.

While a command works on DIR it holds an exclusive lock (LOCK, an OS lock released when the
process ends, even killed); a second command on DIR exits at once naming the first (HOLDER).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from experiments.files import replacing

MARKER = ".hospsim"
LOCK = ".hospsim.lock"
HOLDER = ".hospsim.lock.json"
_held: dict[Path, FileLock] = {}  # folders this process has locked (claims nest)


class FolderError(ValueError):
    """A results folder hospsim must not write into, or one in use by another run."""


@contextmanager
def claim(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Hold `out` for a run: checked to be ours (or `overwrite`), created, marked and
    locked until the block ends. Nested claims of a folder already held are free."""
    out = Path(out)
    key = out.resolve()
    if key in _held:
        yield out
        return
    _check_owned(out, overwrite)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FolderError(f"cannot create {out}: {error.strerror}") from None
    lock = FileLock(out / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderError(f"{out} is in use by another hospsim run ({_holder(out)}); wait "
                          "for it to finish or choose another --out") from None
    _held[key] = lock
    failed = True
    try:
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": sys.argv}
        marker = {"hospsim": "results folder", "format": 1}
        for name, content in ((HOLDER, holder), (MARKER, marker)):
            with replacing(out / name) as partial:
                partial.write_text(json.dumps(content))
        yield out
        failed = False
    finally:
        (out / HOLDER).unlink(missing_ok=True)
        del _held[key]
        lock.release()
        if created and failed:  # a folder made for a run that wrote nothing goes again
            _remove_if_only_ours(out)


def _remove_if_only_ours(out: Path) -> None:
    ours = {MARKER, LOCK, HOLDER}
    if {p.name for p in out.iterdir()} <= ours:
        for name in ours:
            (out / name).unlink(missing_ok=True)
        out.rmdir()


def is_results_folder(out: Path) -> bool:
    return (Path(out) / MARKER).is_file()


def _check_owned(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FolderError(f"{out} is a file, not a folder")
    if not out.exists() or is_results_folder(out) or overwrite:
        return
    if any(out.iterdir()):
        raise FolderError(f"{out} is not empty and not a hospsim results folder; choose a "
                          "new or empty --out, or pass --overwrite to write hospsim's files "
                          "there (replacing files of the same names, deleting nothing else)")


def real_folder(path: Path) -> Path:
    """`path` as a folder to write into, refused when it (or a file of ours) is a symlink:
    a run writes only inside its own results folder."""
    if path.is_symlink():
        raise FolderError(f"{path} is a symbolic link; hospsim writes only into real folders "
                          "inside the results folder (remove the link or choose another --out)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _holder(out: Path) -> str:
    try:
        info = json.loads((out / HOLDER).read_text())
        command = " ".join(info["command"])
        return f"pid {info['pid']} on {info['host']}, since {info['started']}: {command}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its details unknown"
