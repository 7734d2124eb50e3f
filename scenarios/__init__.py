"""Scenario files: the schema, the YAML loader with precise errors, the built-in library."""

from scenarios.loader import ScenarioError, builtin_names, load, load_text
from scenarios.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "builtin_names", "load", "load_text"]
