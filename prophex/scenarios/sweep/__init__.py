"""Sweeps: one scenario over a grid of protocol parameters *and scenario fields* x seeds.

Each run is an in-memory replay (the same sequencer and engine as everything else, without a
database), so a run's figures are a pure function of (scenario, grid point, seed). That is
what lets the local process pool and a Dask cluster give *exactly* the same table: runs are
collected, sorted by (grid point, seed), and only then aggregated, with integer arithmetic for
money and the inverted-CDF quantile (an actual run's value) for the 99th percentile.

Grid keys (docs/scenarios.md, "Sweeps", states them exactly):

* a :class:`prophex.params.Params` field (``max_leverage``, ``if_seed``, ...); ``V`` is short
  for ``virtual_oi`` and also replaces every market's own V;
* a scenario alias: ``side_bias`` (every population, every market), ``leverage`` and
  ``margin`` (every population, a fixed value), ``outcome`` (every planned non-void
  resolution), ``shock_at`` (every shock's start), ``settlement``;
* a dotted path into the scenario: ``populations.crowd.side_bias.EVENT``,
  ``populations.0.leverage.values``, ``shocks.0.at``, ``resolution.EVENT.outcome``; list items
  are picked by index, ``name``/``id``, or ``*`` (all). Values are read as YAML scalars.

``--solve PARAM --target 'P(fund depleted) <= 1%' --confidence 0.95`` brackets and bisects to
the largest value of PARAM whose one-sided Wilson upper bound of the depletion probability is
within the target.

Heavy modules (numpy, the engine, pandas) are imported inside the functions, so
``prophex --help`` does not pay for them.

The package, one module per concept: ``grid`` (names, points, applying a point), ``runs``
(tasks, executors, the aggregate table), ``stats`` (intervals and quantiles), ``solver``
(``--solve``), ``output`` (files and terminal views), ``command`` (``prophex sweep``),
``extras`` (the optional ``sweep`` extra), ``errors``.
"""

from __future__ import annotations

from prophex.scenarios.sweep.command import sweep_command
from prophex.scenarios.sweep.errors import SweepError
from prophex.scenarios.sweep.extras import SWEEP_EXTRA, missing_modules, require_sweep_extra
from prophex.scenarios.sweep.grid import (
    ALIASES,
    SCENARIO_ALIASES,
    SCENARIO_ROOTS,
    Point,
    apply_point,
    fixed_point,
    grid_points,
    parse_grid,
)
from prophex.scenarios.sweep.output import METRICS, MONEY_METRICS, heatmaps, write_outputs
from prophex.scenarios.sweep.runs import (
    Task,
    aggregate,
    cell_warnings,
    execute,
    execute_dask,
    execute_local,
    run_chunk,
    run_task,
    sweep,
)
from prophex.scenarios.sweep.solver import Evaluation, SolveResult, parse_target, solve
from prophex.scenarios.sweep.stats import (
    BOOTSTRAP_RESAMPLES,
    bootstrap_interval,
    inverted_quantile,
    runs_needed,
    upper_bound,
    wilson,
    z_two_sided,
)

__all__ = [
    "ALIASES",
    "BOOTSTRAP_RESAMPLES",
    "METRICS",
    "MONEY_METRICS",
    "SCENARIO_ALIASES",
    "SCENARIO_ROOTS",
    "SWEEP_EXTRA",
    "Evaluation",
    "Point",
    "SolveResult",
    "SweepError",
    "Task",
    "aggregate",
    "apply_point",
    "bootstrap_interval",
    "cell_warnings",
    "execute",
    "execute_dask",
    "execute_local",
    "fixed_point",
    "grid_points",
    "heatmaps",
    "inverted_quantile",
    "missing_modules",
    "parse_grid",
    "parse_target",
    "require_sweep_extra",
    "run_chunk",
    "run_task",
    "runs_needed",
    "solve",
    "sweep",
    "sweep_command",
    "upper_bound",
    "wilson",
    "write_outputs",
    "z_two_sided",
]
