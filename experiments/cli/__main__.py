"""`python -m experiments.cli`: the `hospsim` command line."""

from experiments.cli import app

app()
