"""Running a study: every policy of a scenario over its replications, and what is computed
from them.

`run` (a study, or one grown to a precision) drives `replications` (in-process, a process
pool or Dask) and keeps each replication in the `store` as it finishes, after the `warmup`
is chosen; `output` writes the tables and the manifest. `stats` (confidence intervals,
paired differences) and `service_levels` (meets / breaches / undecided) are read by the
report and the CLI. `stress` sweeps one field over studies. Nothing here writes a report.
"""
