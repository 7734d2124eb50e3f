"""Scenario YAML -> validated `Scenario`, with errors a user can jump to (FILE:LINE:COL).

Every mapping and list read from YAML remembers where each of its keys and values was
written, and keeps that through `extends` merging and `--set` overrides. Validation errors
(pydantic's, and the schema's cross-field `ScenarioReferenceError`) are paths in the merged
document, so each one is looked up there to find the file, line and column to report.

What a scenario may read: the file named on the command line (or a built-in) is the user's
choice; the files *it* names (`extends`, `los.data`) are the scenario author's, who may not
be the user. They resolve relative to the file that names them and must lie, symlinks
resolved, under the top scenario's folder, the built-in library, or a folder listed in
$HOSPSIM_SCENARIO_ROOTS (os.pathsep-separated). `--set los.data=...` is the user's again,
relative to the working folder. Errors name a file and a field, never echo its contents.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scenarios import limits
from scenarios.schema import Scenario, ScenarioReferenceError, _suggest, format_path

LIBRARY = Path(__file__).with_name("library")
OVERRIDE = "--set "  # the file name of an override's problems is "--set PATH=VALUE"
ROOTS_VARIABLE = "HOSPSIM_SCENARIO_ROOTS"

Key = str | int
DataPath = tuple[Key, ...]
Check = Callable[[Scenario], list[tuple[DataPath, str]]]
"""More checks of a valid scenario, by layers above this one (policy parameters): each
problem a path in the scenario and a message, located in the files like the schema's."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located so an editor can jump to it (1-based)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """Everything found wrong at once (fixing one error per run is slow), in file order."""

    def __init__(self, problems: Sequence[Problem]):
        unique = dict.fromkeys(problems)  # union branches can repeat the same complaint
        self.problems = sorted(unique, key=_file_order)
        super().__init__("\n".join(map(str, self.problems)))


def _file_order(problem: Problem) -> tuple[bool, str, int, int]:
    """By file, line and column; `--set` overrides last, in the order given."""
    override = problem.file.startswith(OVERRIDE)
    return override, "" if override else problem.file, problem.line, problem.column


@dataclass(frozen=True)
class _Mark:
    file: str
    line: int
    column: int

    def problem(self, path: DataPath, message: str) -> Problem:
        return Problem(self.file, self.line, self.column, format_path(path), message)


class _Map(dict):
    """A mapping that remembers where it, each key and each value were written."""

    def __init__(self, mark: _Mark):
        super().__init__()
        self.mark = mark
        self.key_marks: dict[Any, _Mark] = {}
        self.value_marks: dict[Any, _Mark] = {}

    def put(self, key: Any, value: Any, key_mark: _Mark, value_mark: _Mark) -> None:
        self[key] = value
        self.key_marks[key] = key_mark
        self.value_marks[key] = value_mark

    def take(self, key: Any) -> tuple[Any, _Mark]:
        self.key_marks.pop(key)
        return self.pop(key), self.value_marks.pop(key)


class _List(list):
    """A list that remembers where it and each item were written."""

    def __init__(self, mark: _Mark):
        super().__init__()
        self.mark = mark
        self.marks: list[_Mark] = []

    def put(self, value: Any, mark: _Mark) -> None:
        self.append(value)
        self.marks.append(mark)


# Public API


def builtin_names() -> list[str]:
    """Scenarios shipped in `scenarios/library`, usable by name instead of a path."""
    return sorted(path.stem for path in LIBRARY.glob("*.yaml"))


def load(source: str | Path, overrides: Sequence[str] = (), check: Check | None = None
         ) -> Scenario:
    """A built-in scenario by name, or a YAML file, with `extends` and overrides applied
    (and `check`ed, when given)."""
    return _validate(*_resolve(source, overrides), check)


def load_text(text: str, filename: str = "<string>", overrides: Sequence[str] = (),
              check: Check | None = None) -> Scenario:
    """Like `load` for YAML already in memory; `filename` names it in errors and anchors
    relative `extends` paths."""
    chain = {Path(filename).resolve(): filename}
    roots = _roots(Path(filename).parent)
    doc = _override(_load_doc(text, filename, Path(filename).parent, chain, roots), overrides)
    return _validate(doc, _locate_data(doc, roots), check)


def resolve(source: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The fully merged raw mapping (no `extends`), for provenance manifests: exactly what
    `load` validates, so `Scenario.model_validate(resolve(...))` rebuilds the scenario."""
    doc, problems = _resolve(source, overrides)
    if problems:
        raise ScenarioError(problems)
    return _plain(doc)


def _resolve(source: str | Path, overrides: Sequence[str]) -> tuple[_Map, list[Problem]]:
    """The merged document and what is wrong with the files it names."""
    path = _find(str(source), Path(), None)
    if path is None:
        raise ScenarioError([Problem(str(source), 1, 1, "", _not_found(str(source)))])
    roots = _roots(path.parent)
    doc = _override(_load_file(path, {}, roots), overrides)
    return doc, _locate_data(doc, roots)


# What a scenario may reference


def _roots(folder: Path) -> tuple[Path, ...]:
    """Folders whose files a scenario in `folder` may name: its own tree, the library and
    those the user allowed in $HOSPSIM_SCENARIO_ROOTS."""
    allowed = os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep)
    return tuple(Path(p).resolve() for p in [folder, LIBRARY, *filter(None, allowed)])


def _confined(ref: str, directory: Path, roots: tuple[Path, ...]) -> Path:
    """`ref` relative to `directory`, checked (symlinks resolved) to lie under a root."""
    path = (directory / ref).resolve()
    if not any(path.is_relative_to(root) for root in roots):
        raise ValueError(
            f"{ref!r} is outside the scenario's folder: a scenario may name files only under "
            f"{roots[0]} or the built-in library (allow more folders with {ROOTS_VARIABLE})"
        )
    return path


def _locate_data(doc: _Map, roots: tuple[Path, ...]) -> list[Problem]:
    """Make `los.data` an absolute path to an existing file, found from the file that wrote
    it (from the working folder for a `--set`), so a scenario means the same data wherever
    it is run from; an absent or out-of-bounds file is a problem at its line."""
    los = doc.get("los")
    if not isinstance(los, _Map) or not isinstance(los.get("data"), str):
        return []
    ref, mark = los["data"], los.value_marks["data"]
    by_user = mark.file.startswith(OVERRIDE)
    directory = Path() if by_user else Path(mark.file).parent
    try:
        path = (directory / ref).resolve() if by_user else _confined(ref, directory, roots)
    except ValueError as err:
        return [mark.problem(("los", "data"), str(err))]
    if not path.is_file():
        return [mark.problem(("los", "data"),
                             f"no such file {ref!r} (looked in {directory.resolve()})")]
    los.put("data", str(path), los.key_marks["data"], mark)
    return []


# Reading YAML with marks


def _load_file(path: Path, chain: dict[Path, str], roots: tuple[Path, ...]) -> _Map:
    name = str(path)
    try:
        too_big = limits.beyond("scenario_bytes", path.stat().st_size)
        if too_big:
            raise ScenarioError([Problem(name, 1, 1, "", too_big)])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ScenarioError([Problem(name, 1, 1, "", f"cannot read file: {reason}")]) from err
    return _load_doc(text, name, path.parent, {**chain, path.resolve(): name}, roots)


def _load_doc(
    text: str, filename: str, directory: Path, chain: dict[Path, str], roots: tuple[Path, ...]
) -> _Map:
    """One document, merged over its `extends` base (recursively); `chain` catches cycles."""
    doc = _parse(text, filename)
    if "extends" not in doc:
        return doc
    ref, mark = doc.take("extends")
    if not isinstance(ref, str) or not ref:
        message = "must be a built-in scenario name or a path to a YAML file"
        raise ScenarioError([mark.problem(("extends",), message)])
    try:
        path = _find(ref, directory, roots)
    except ValueError as err:
        raise ScenarioError([mark.problem(("extends",), str(err))]) from None
    if path is None:
        raise ScenarioError([mark.problem(("extends",), _not_found(ref))])
    if path.resolve() in chain:
        cycle = " -> ".join([*chain.values(), str(path)])
        raise ScenarioError([mark.problem(("extends",), f"extends cycle: {cycle}")])
    too_long = limits.beyond("extends_depth", len(chain) + 1)
    if too_long:
        raise ScenarioError([mark.problem(("extends",), too_long)])
    return _merge(_load_file(path, chain, roots), doc)


def _find(ref: str, directory: Path, roots: tuple[Path, ...] | None) -> Path | None:
    """A file (relative to `directory`, and under `roots` unless None: the user's own
    choice) wins over a built-in of the same name."""
    if roots is not None and ref not in builtin_names():
        _confined(ref, directory, roots)  # before looking, so nothing outside is probed
    candidate = directory / ref
    if candidate.is_file():
        return candidate
    if ref in builtin_names():
        return LIBRARY / f"{ref}.yaml"
    return None


def _not_found(ref: str) -> str:
    names = ", ".join(builtin_names()) or "none"
    return f"no file or built-in scenario {ref!r} (built-ins: {names})"


def _parse(text: str, filename: str) -> _Map:
    problems: list[Problem] = []
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            walk = _Walk(loader, filename, problems)
            data = None if node is None else _build(walk, node, ())
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = _mark(mark, filename) if mark else _Mark(filename, 1, 1)
        raise ScenarioError([where.problem((), _yaml_message(err))]) from err
    except yaml.YAMLError as err:
        raise ScenarioError([Problem(filename, 1, 1, "", f"invalid YAML: {err}")]) from err
    except RecursionError:  # PyYAML composes nested collections recursively
        message = limits.beyond("nesting", limits.most("nesting") + 1) or ""
        raise ScenarioError([Problem(filename, 1, 1, "", message)]) from None
    if not isinstance(data, _Map):
        got = "an empty file" if data is None else _kind(data)  # never the contents
        message = f"a scenario must be a mapping of fields (name: ..., units: ...), not {got}"
        problems.append(Problem(filename, 1, 1, "", message))
    if problems:
        raise ScenarioError(problems)
    return data


def _kind(value: Any) -> str:
    """A value described by its type, for messages that must not echo a file's text."""
    if isinstance(value, list):
        return "a list"
    return {str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), f"a {type(value).__name__}")


def _yaml_message(err: yaml.MarkedYAMLError) -> str:
    message = err.problem or err.context or "invalid YAML"
    if err.problem and err.context and err.context_mark:
        message += f" ({err.context} at line {err.context_mark.line + 1})"
    return message


def _mark(mark: yaml.Mark, filename: str) -> _Mark:
    return _Mark(filename, mark.line + 1, mark.column + 1)


@dataclass
class _Walk:
    """One document's construction: where it is, what is wrong, and what it may still cost
    (values built, aliases expanded, and how deep it may nest)."""

    loader: yaml.SafeLoader
    filename: str
    problems: list[Problem]
    values_left: float = field(default_factory=lambda: limits.most("yaml_values"))
    deepest: float = field(default_factory=lambda: limits.most("nesting"))
    active: set[int] = field(default_factory=set)

    def spend(self, node: yaml.Node, path: DataPath) -> None:
        self.values_left -= 1
        name = "yaml_values" if self.values_left < 0 else "nesting" if len(
            path) > self.deepest else None
        if name is not None:
            count = limits.most(name) + 1
            raise ScenarioError([_mark(node.start_mark, self.filename).problem(
                path, limits.beyond(name, count) or "")])


def _build(walk: _Walk, node: yaml.Node, path: DataPath) -> Any:
    """Construct a node: scalars by PyYAML's safe rules, containers as marked ones; every
    value (an alias's each time it is used) counts against the document's budget."""
    walk.spend(node, path)
    if isinstance(node, yaml.ScalarNode):
        return walk.loader.construct_object(node, deep=True)
    if id(node) in walk.active:  # an alias inside its own anchor
        raise yaml.composer.ComposerError(None, None, "recursive alias", node.start_mark)
    walk.active.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        result: Any = _List(_mark(node.start_mark, walk.filename))
        for i, item in enumerate(node.value):
            value = _build(walk, item, (*path, i))
            result.put(value, _mark(item.start_mark, walk.filename))
    else:
        result = _Map(_mark(node.start_mark, walk.filename))
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        walk.loader.flatten_mapping(node)  # `<<: *base` keys come first, so explicit keys win
        written: set[Any] = set()
        for key_node, value_node in node.value:
            key = walk.loader.construct_object(key_node, deep=True)
            key_mark = _mark(key_node.start_mark, walk.filename)
            try:
                hash(key)
            except TypeError:
                walk.problems.append(key_mark.problem(path, "a key must be a plain value"))
                continue
            if id(key_node) in explicit:
                if key in written:
                    walk.problems.append(key_mark.problem((*path, key), "duplicate key"))
                written.add(key)
            value = _build(walk, value_node, (*path, key))
            result.put(key, value, key_mark, _mark(value_node.start_mark, walk.filename))
    walk.active.discard(id(node))
    return result


# Merging and overrides


REPLACED = frozenset({"policies"})
"""Top-level lists a child gives whole: the policies to compare are a set chosen anew (and
several may share a name, told apart by label), not items to patch one by one."""


def _merge(base: Any, child: Any, top: bool = True) -> Any:
    """Child over base: mappings key by key, lists of named mappings item by item (by
    `name`, new names appended), anything else replaced. Reuses (mutates) `base`."""
    if isinstance(base, _Map) and isinstance(child, _Map):
        for key, value in child.items():
            keep = key in base and not (top and key in REPLACED)
            merged = _merge(base[key], value, top=False) if keep else value
            base.put(key, merged, child.key_marks[key], child.value_marks[key])
        base.mark = child.mark
        return base
    if _named(base) and _named(child):
        index = {item["name"]: i for i, item in enumerate(base)}
        for item, mark in zip(child, child.marks, strict=True):
            i = index.get(item["name"])
            if i is None:
                index[item["name"]] = len(base)
                base.put(item, mark)
            else:
                base[i] = _merge(base[i], item, top=False)
                base.marks[i] = mark
        base.mark = child.mark
        return base
    return child


def _named(value: Any) -> bool:
    return (
        isinstance(value, _List)
        and len(value) > 0
        and all(isinstance(item, _Map) and isinstance(item.get("name"), str) for item in value)
    )


def _override(doc: _Map, overrides: Sequence[str]) -> _Map:
    if isinstance(overrides, str):  # a lone "a=1" would otherwise be read character by character
        overrides = [overrides]
    problems = [p for n, text in enumerate(overrides, 1) for p in _apply(doc, n, text)]
    if problems:
        raise ScenarioError(problems)
    return doc


def _apply(doc: _Map, number: int, text: str) -> list[Problem]:
    """Apply one `PATH=VALUE`; problems are located at `--set TEXT`, line = its number."""
    file = OVERRIDE + text

    def fail(column: int, path: DataPath, message: str) -> list[Problem]:
        return [Problem(file, number, column, format_path(path), message)]

    path_text, equals, value_text = text.partition("=")
    if not equals:
        return fail(1, (), "expected PATH=VALUE, e.g. units.icu.beds=30")
    steps: list[tuple[int, str]] = []
    column = 1
    for part in path_text.split("."):
        if not part.strip():
            return fail(column, (), "empty step in PATH (expected e.g. units.icu.beds)")
        steps.append((column + len(part) - len(part.lstrip()), part.strip()))
        column += len(part) + 1
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        offset = mark.column if mark else 0
        problem = getattr(err, "problem", None) or str(err)
        return fail(len(path_text) + 2 + offset, (), f"bad value: {problem}")

    mark = _Mark(file, number, 1)
    node: Any = doc
    path: DataPath = ()
    for i, (column, step) in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(node, _Map):
            if last:
                node.put(step, _marked(value, mark), mark, mark)
            elif node.get(step) is None:  # missing (or null) intermediate mappings are created
                node.put(step, _Map(mark), mark, mark)
            key: Key = step
        elif isinstance(node, _List):
            names = [_item_name(item) for item in node]
            if step.isdigit():
                key = int(step)
                if key >= len(node):
                    return fail(column, path, f"index {key} is out of range ({len(node)} items)")
            elif step in names:
                key = names.index(step)
            else:
                known = [str(name) for name in names if name is not None]
                return fail(column, path, f"no item named {step!r}{_suggest(step, known)}")
            if last:
                node[key] = _marked(value, mark)
                node.marks[key] = mark
        else:
            kind = "null" if node is None else type(node).__name__
            return fail(column, path, f"is a {kind}, not a mapping or list")
        path = (*path, key)
        node = node[key]
    return []


def _item_name(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else None


def _marked(value: Any, mark: _Mark) -> Any:
    """An override's value as marked containers, all pointing at the override."""
    if isinstance(value, dict):
        result = _Map(mark)
        for key, item in value.items():
            result.put(key, _marked(item, mark), mark, mark)
        return result
    if isinstance(value, list):
        items = _List(mark)
        for item in value:
            items.put(_marked(item, mark), mark)
        return items
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# Validation and locating its errors


def _validate(doc: _Map, problems: list[Problem], check: Check | None = None) -> Scenario:
    """The scenario, or every problem: the `problems` already found, the schema's, then
    `check`'s."""
    try:
        scenario = Scenario.model_validate(_plain(doc))
    except ValidationError as err:
        found = [_from_pydantic(doc, error) for error in err.errors()]
        raise ScenarioError(problems + found) from err
    except ScenarioReferenceError as err:
        found = [_where(doc, path)[0].problem(path, msg) for path, msg in err.problems]
        raise ScenarioError(problems + found) from err
    if check is not None and not problems:
        problems = [_where(doc, path)[0].problem(path, msg) for path, msg in check(scenario)]
    if problems:
        raise ScenarioError(problems)
    return scenario


def _from_pydantic(doc: _Map, error: ErrorDetails) -> Problem:
    """Unknown fields (and bad dict keys) point at the key, missing ones at the enclosing
    mapping, the rest at the value."""
    kind, loc = error["type"], error["loc"]
    path = _data_path(doc, loc, missing=kind == "missing")
    if kind == "missing" and path:
        parent = path[:-1]
        return _where(doc, parent)[0].problem(parent, f"missing required field {path[-1]!r}")
    value_mark, key_mark = _where(doc, path)
    if kind == "extra_forbidden" and path:
        return key_mark.problem(path, _unknown_field(path))
    mark = key_mark if loc[-1:] == ("[key]",) else value_mark
    return mark.problem(path, error["msg"].removeprefix("Value error, "))


def _data_path(doc: _Map, loc: tuple[Any, ...], missing: bool) -> DataPath:
    """Drop what pydantic adds to a location beyond the data (union branch tags such as
    'constrained-int', "literal['auto']" or 'function-after[...]')."""
    node: Any = doc
    path: list[Key] = []
    for i, part in enumerate(loc):
        if _has(node, part):
            node = node[part]
        elif not (missing and i == len(loc) - 1):
            continue
        path.append(part)
    return tuple(path)


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _where(doc: _Map, path: DataPath) -> tuple[_Mark, _Mark]:
    """Marks of the value at `path` and of its key (of the deepest part that exists)."""
    node: Any = doc
    value_mark = key_mark = doc.mark
    for part in path:
        if isinstance(node, _Map) and part in node:
            key_mark, value_mark = node.key_marks[part], node.value_marks[part]
        elif isinstance(node, _List) and isinstance(part, int) and 0 <= part < len(node):
            key_mark = value_mark = node.marks[part]
        else:
            break
        node = node[part]
    return value_mark, key_mark


def _unknown_field(path: DataPath) -> str:
    fields = _field_names(path[:-1])
    suggestion = _suggest(str(path[-1]), fields)
    if suggestion or not fields:
        return f"unknown field{suggestion}"
    return f"unknown field; valid fields: {', '.join(fields)}"


def _field_names(path: DataPath) -> list[str]:
    """Fields of the model that validates the mapping at `path`, found by walking the
    schema's type hints (through lists, dicts, Optional, unions and Annotated)."""
    hints: list[Any] = [Scenario]
    for part in path:
        hints = [inner for hint in hints for inner in _inner(hint, part)]
    models = [t for hint in hints for t in _branches(hint) if _is_model(t)]
    names = [name for model in models for name in model.model_fields]
    if not path:
        names.append("extends")
    return list(dict.fromkeys(names))


def _inner(hint: Any, part: Key) -> list[Any]:
    found = []
    for t in _branches(hint):
        origin = get_origin(t)
        if _is_model(t) and isinstance(part, str) and part in t.model_fields:
            found.append(t.model_fields[part].annotation)
        elif origin is list and isinstance(part, int):
            found.append(get_args(t)[0])
        elif origin is dict:
            found.append(get_args(t)[1])
    return found


def _branches(hint: Any) -> list[Any]:
    origin = get_origin(hint)
    if origin is Annotated:
        return _branches(get_args(hint)[0])
    if origin is Union or origin is types.UnionType:
        return [t for arg in get_args(hint) for t in _branches(arg)]
    return [hint]


def _is_model(hint: Any) -> bool:
    return get_origin(hint) is None and isinstance(hint, type) and issubclass(hint, BaseModel)
