"""``--solve``: the largest value of a parameter whose depletion bound is within a target."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from prophex.scenarios.sweep.errors import SweepError
from prophex.scenarios.sweep.grid import ALIASES, Point, parse_grid
from prophex.scenarios.sweep.runs import sweep
from prophex.scenarios.sweep.stats import runs_needed, upper_bound

if TYPE_CHECKING:
    from prophex.scenarios.schema import Scenario


_TARGET = re.compile(r"^\s*P\(\s*fund depleted\s*\)\s*<=?\s*([0-9.]+)\s*(%?)\s*$", re.I)


def parse_target(text: str) -> float:
    """``'P(fund depleted) <= 1%'`` -> 0.01 (also ``<= 0.01``)."""
    match = _TARGET.match(text)
    if match is None:
        raise SweepError(
            f"--target {text!r}: expected 'P(fund depleted) <= X%' (or a fraction)",
            field="target",
        )
    value = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 < value < 1:
        raise SweepError(f"--target {text!r}: the probability must be in (0, 1)", field="target")
    return value


@dataclass(slots=True)
class Evaluation:
    value: str
    runs: int
    depleted_runs: int
    depletion_probability: float
    upper_bound: float
    safe: bool
    mean_volume: int
    mean_fees: int
    mean_shortfall: int


@dataclass(slots=True)
class SolveResult:
    param: str
    target: float
    confidence: float
    runs_per_value: int
    answer: str | None
    """Largest safe value found (``None``: even the low end is unsafe)."""
    first_unsafe: str | None
    baseline: Evaluation
    at_answer: Evaluation | None
    volume_given_up: int | None
    fees_given_up: int | None
    evaluations: list[Evaluation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _format_units(units: int, step: Any) -> str:
    value = Decimal(units) * Decimal(str(step))
    text = format(value.normalize(), "f")
    return text


def _step_grid(
    param: str, low: str | None, high: str | None, step: str | None
) -> tuple[Decimal, int, int]:
    """The step and the range's ends in whole steps (``--range``/``--step``, or the
    parameter's defaults)."""
    defaults = {"max_leverage": ("1", "100", "0.01")}
    lo_text, hi_text, step_text = defaults.get(param, (None, None, "1"))
    lo_text, hi_text, step_text = low or lo_text, high or hi_text, step or step_text
    if lo_text is None or hi_text is None:
        raise SweepError(f"--solve {param}: give --range LOW,HIGH", field="range")
    try:
        unit = Decimal(step_text)
        lo_units = int(Decimal(lo_text) / unit)
        hi_units = int(Decimal(hi_text) / unit)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        raise SweepError("--range and --step must be numbers", field="range") from None
    if unit <= 0 or lo_units > hi_units:
        raise SweepError("--range needs LOW <= HIGH and a positive --step", field="range")
    return unit, lo_units, hi_units


def _runs_per_value(seeds: int | None, target: float, confidence: float) -> tuple[int, list[str]]:
    """Runs per value (``seeds``, else the fewest that can show the target) and the warning
    when they are too few to show it even with no depletion."""
    need = runs_needed(target, confidence)
    runs = seeds if seeds is not None else need
    warnings = []
    if runs < need:
        warnings.append(
            f"{runs} runs per value cannot show P(fund depleted) <= {target:g} at {confidence:g} "
            f"confidence even with no depletion: {need} needed ({need - runs} missing)"
        )
    return runs, warnings


@dataclass(slots=True)
class _Evaluator:
    """Runs one grid value (same seeds every time) and remembers it by its whole steps."""

    scenario: Scenario
    param: str
    unit: Decimal
    target: float
    runs: int
    confidence: float
    executor: str
    workers: int | None
    cache: dict[int, Evaluation] = field(default_factory=dict)

    def point(self, point: Point) -> Evaluation:
        grid = {k: [v] for k, v in point}
        table, _ = sweep(
            self.scenario, grid, self.runs, self.executor, self.workers, self.confidence
        )
        (row,) = table
        bound = upper_bound(row["depleted_runs"], row["runs"], self.confidence)
        return Evaluation(
            value=point[0][1] if point else "baseline",
            runs=row["runs"],
            depleted_runs=row["depleted_runs"],
            depletion_probability=row["depletion_probability"],
            upper_bound=bound,
            safe=bound <= self.target,
            mean_volume=row["mean_volume"],
            mean_fees=row["mean_fees"],
            mean_shortfall=row["mean_shortfall"],
        )

    def safe(self, units: int) -> bool:
        if units not in self.cache:
            self.cache[units] = self.point(((self.param, _format_units(units, self.unit)),))
        return self.cache[units].safe


def _bracket(safe: Callable[[int], bool], lo_units: int, hi_units: int) -> tuple[int, int | None]:
    """From a safe ``lo_units``, double the distance until a value is unsafe or the top is
    reached: (last safe, first unsafe or ``None``)."""
    answer, distance = lo_units, 1
    while True:
        probe = min(hi_units, lo_units + distance)
        if probe == answer:
            return answer, None
        if not safe(probe):
            return answer, probe
        answer = probe
        if probe == hi_units:
            return answer, None
        distance *= 2


def _search(
    safe: Callable[[int], bool], lo_units: int, hi_units: int
) -> tuple[int | None, int | None]:
    """Bracket, then bisect on the step grid: (largest safe, first unsafe)."""
    if not safe(lo_units):
        return None, lo_units
    answer, unsafe = _bracket(safe, lo_units, hi_units)
    while unsafe is not None and unsafe - answer > 1:
        mid = (answer + unsafe) // 2
        if safe(mid):
            answer = mid
        else:
            unsafe = mid
    return answer, unsafe


def solve(
    scenario: Scenario,
    param: str,
    target: float,
    *,
    confidence: float = 0.95,
    seeds: int | None = None,
    low: str | None = None,
    high: str | None = None,
    step: str | None = None,
    executor: str = "local",
    workers: int | None = None,
) -> SolveResult:
    """Largest value of ``param`` in [low, high] (a multiple of ``step``) whose one-sided
    Wilson upper bound of P(fund depleted) is <= ``target``, assuming risk grows with it.

    Bracketing: from ``low``, the distance doubles (1, 2, 4, ... steps) until a value is unsafe
    or ``high`` is reached; then bisection on the integer step grid between the last safe and
    the first unsafe value. Every value runs the same seeds.
    """
    param = ALIASES.get(param, param)
    parse_grid([f"{param}=0"])  # the name must be sweepable
    unit, lo_units, hi_units = _step_grid(param, low, high, step)
    runs, warnings = _runs_per_value(seeds, target, confidence)
    evaluator = _Evaluator(scenario, param, unit, target, runs, confidence, executor, workers)
    baseline = evaluator.point(())
    answer, unsafe = _search(evaluator.safe, lo_units, hi_units)
    cache = evaluator.cache
    at_answer = None if answer is None else cache[answer]
    return SolveResult(
        param=param,
        target=target,
        confidence=confidence,
        runs_per_value=runs,
        answer=None if answer is None else _format_units(answer, unit),
        first_unsafe=None if unsafe is None else _format_units(unsafe, unit),
        baseline=baseline,
        at_answer=at_answer,
        volume_given_up=None if at_answer is None else baseline.mean_volume - at_answer.mean_volume,
        fees_given_up=None if at_answer is None else baseline.mean_fees - at_answer.mean_fees,
        evaluations=[cache[k] for k in sorted(cache)],
        warnings=warnings,
    )
