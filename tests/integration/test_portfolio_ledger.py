"""Portfolio-mode accounts through the ledger: SQLite, PostgreSQL and memory give the same
digest (across a restart), ``prophex audit`` re-derives every requirement and lock by replay,
and a tampered lock or requirement is detected."""

from __future__ import annotations

from sqlalchemy import text

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import (
    Close,
    Command,
    CreateMarket,
    Deposit,
    Open,
    OpenPortfolio,
    Resolve,
    SetMarginMode,
    Withdraw,
)
from prophex.engine.state import check_invariants, digest
from prophex.errors import ProphexError
from prophex.ledger.store import make_db_engine
from prophex.params import Params, profile

M = 1_000_000


def params() -> Params:
    return profile(
        "launch",
        virtual_oi=100_000,
        wallet_cap=1_000_000,
        market_oi_cap=10_000_000,
        max_leverage=25,
        pm_paths=5_000,
        pm_seed=3,
        pm_epoch_seconds=3_600,
    )


def commands() -> list[Command]:
    out: list[Command] = [
        CreateMarket(
            "BTC100",
            cluster="BTC",
            underlying="BTC",
            contract_kind="threshold",
            strike="100000",
            direction="above",
        ),
        CreateMarket(
            "BTC105",
            cluster="BTC",
            underlying="BTC",
            contract_kind="threshold",
            strike="105000",
            direction="above",
        ),
        CreateMarket(
            "ETH4000",
            cluster="ETH",
            underlying="ETH",
            contract_kind="threshold",
            strike="4000",
            direction="above",
        ),
        CreateMarket("G1", cluster="SPORTS"),
        CreateMarket("RAIN"),
        Deposit("pm", 20_000 * M),
        Deposit("pm2", 20_000 * M),
        Deposit("iso", 50_000 * M),
        Deposit("bear", 1_000_000 * M),
        SetMarginMode("pm", "portfolio"),
        SetMarginMode("pm2", "portfolio"),
        OpenPortfolio("pm", "BTC100", "A", 10_000 * M),
        OpenPortfolio("pm", "BTC105", "B", 10_000 * M),
        OpenPortfolio("pm", "G1", "A", 1_000 * M),
        OpenPortfolio("pm2", "ETH4000", "B", 3_000 * M),
        OpenPortfolio("pm2", "RAIN", "A", 2_000 * M),
        Open("iso", "BTC100", "A", 100 * M, 1000),
        Withdraw("pm", 14_000 * M),
        Open("pm", "G1", "A", 10 * M, 200),  # refused: portfolio accounts open by notional
        Close("pm2", 5, 1_000 * M),
        Open("bear", "BTC100", "B", 200_000 * M, 100),  # liquidates iso then pm
        Resolve("ETH4000", "A"),  # pm2 is short: full cost from lock then wallet
        SetMarginMode("pm", "isolated"),  # flat after its liquidation
        OpenPortfolio("pm2", "G1", "B", 500 * M),
    ]
    return out  # fmt: skip


def run_memory() -> tuple[str, list[str]]:
    seq = Sequencer.in_memory(params())
    outcomes = seq.execute(commands())
    codes = [o.code if isinstance(o, ProphexError) else o.kind for o in outcomes]
    assert check_invariants(seq.state) == []
    return digest(seq.state), codes


def test_memory_run_exercises_portfolio_features() -> None:
    _, codes = run_memory()
    assert codes.count("INVALID_COMMAND") == 1
    assert "open_portfolio" in codes and "set_margin_mode" in codes


def test_backends_match_memory_audit_passes_and_tampering_is_caught(db_url: str) -> None:
    expected, _ = run_memory()
    cmds = commands()
    with Sequencer.open(db_url, params(), block_size=4) as seq:
        seq.execute(cmds[:14])
    with Sequencer.open(db_url, block_size=4) as seq:  # restart: state rebuilt from tables
        seq.execute(cmds[14:])
        assert digest(seq.state) == expected
    with Sequencer.open(db_url) as again:
        assert digest(again.state) == expected
        assert "pm" not in again.state.margin_modes and "pm2" in again.state.margin_modes
    engine = make_db_engine(db_url)
    try:
        report = audit_database(engine)
        assert report.ok, report.violations
        assert report.replayed_digest == report.stored_digest == expected
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE balances SET balance = balance + 1 WHERE account = 'pm_margin:pm2'")
            )
            conn.execute(
                text("UPDATE balances SET balance = balance - 1 WHERE account = 'treasury'")
            )
        report = audit_database(engine)
        assert not report.ok
        assert any("pm_margin:pm2" in v for v in report.violations), report.violations
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE balances SET balance = balance - 1 WHERE account = 'pm_margin:pm2'")
            )
            conn.execute(
                text("UPDATE balances SET balance = balance + 1 WHERE account = 'treasury'")
            )
            conn.execute(text("UPDATE margin_accounts SET requirement = requirement + 1"))
        report = audit_database(engine)
        assert not report.ok
        assert any("requirement" in v for v in report.violations), report.violations
    finally:
        engine.dispose()
