"""Genesis, parameter changes and the simulated clock (which runs funding)."""

from __future__ import annotations

from prophex.engine import journal as ev
from prophex.engine.commands import AdvanceClock, Genesis, SetParams
from prophex.engine.controllers.funding import fund_market
from prophex.engine.core import Core
from prophex.engine.events import EXTERNAL, INSURANCE_FUND, Journal
from prophex.engine.funding import boundaries_crossed
from prophex.engine.results import ClockResult, GenesisResult, ParamsResult
from prophex.errors import ClockError, InvalidCommand
from prophex.params import make_params, profile

MAX_FUNDING_INTERVALS_PER_COMMAND = 100_000


def genesis(core: Core, c: Genesis) -> GenesisResult:
    state = core.state
    if state.command_seq != 0:
        raise InvalidCommand("genesis must be the first command", field="type")
    params = make_params(c.params)
    state.params, state.rules = params, params.rules()
    journal = Journal()
    journal.move(EXTERNAL, INSURANCE_FUND, state.rules.if_seed)
    core.commit(ev.Genesis(params.model_dump(mode="json")), journal)
    return GenesisResult(state.rules.if_seed)


def set_params(core: Core, c: SetParams) -> ParamsResult:
    overrides = dict(c.params)
    name = overrides.pop("profile", None)
    if isinstance(name, str) and name != "custom":
        base = profile(name)
        params = base.with_overrides(overrides) if overrides else base
    else:
        params = core.state.params.with_overrides(overrides)
    core.state.params, core.state.rules = params, params.rules()
    core.commit(ev.ParamsSet(params.model_dump(mode="json")), Journal())
    return ParamsResult(params.model_dump(mode="json"))


def advance_clock(core: Core, c: AdvanceClock) -> ClockResult:
    if c.seconds <= 0:
        raise ClockError("the simulated clock only moves forward", field="seconds")
    state = core.state
    start, end = state.time, state.time + c.seconds
    interval = state.rules.funding_interval_seconds
    boundaries = boundaries_crossed(start, end, interval)
    if len(boundaries) > MAX_FUNDING_INTERVALS_PER_COMMAND:
        raise InvalidCommand(
            f"advance crosses {len(boundaries)} funding intervals; split it into smaller steps",
            field="seconds",
        )
    payments = 0
    for boundary in boundaries:
        state.time = boundary * interval
        for market_id in sorted(state.markets):
            market = state.markets[market_id]
            if market.funding and market.status == "open":
                payments += fund_market(core, market)
    state.time = end
    core.commit(ev.ClockAdvanced(start, end), Journal())
    return ClockResult(end, payments)
