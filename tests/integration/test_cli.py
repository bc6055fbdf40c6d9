"""The ``prophex`` command end to end, as a subprocess: run, audit, demo, db upgrade."""

from __future__ import annotations

import json
import shutil
import sqlite3
from decimal import ROUND_CEILING, Context, Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers_db import PROJECT_TABLES, count_rows, flat, run_cli, stored_digest, table_names

from prophex.chain.sequencer import Sequencer
from prophex.ledger import schema
from prophex.ledger.store import make_db_engine
from prophex.params import profile
from prophex.simulation.runner import execute_file, load_command_file

TINY_YAML = """\
# deposit, market, one 5x long at zero fee
- type: deposit
  account: alice
  amount: "1000"
- {type: create_market, market: m1}
- type: open
  account: alice
  market: m1
  side: A
  margin: "300"
  leverage: 5
"""
TINY_JSONL = """\
{"type": "deposit", "account": "alice", "amount": "1000"}
{"type": "create_market", "market": "m1"}
{"type": "open", "account": "alice", "market": "m1", "side": "A", "margin": "300", "leverage": 5}
"""
TINY_PARAMS = ["--param", "fee_rate=0", "--param", "max_leverage=5", "--param", "wallet_cap=2000"]
MICRO = 1_000_000


def run_json(*args: str) -> tuple[int, dict[str, Any], str]:
    proc = run_cli("run", *args, "--json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def copy_db(source: Path, target: Path) -> str:
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def curve_cost(notional: int, other: int, side: int) -> int:
    """Independent check of the curve-average cost: N - OI_other * ln((S + N) / S), rounded up."""
    ctx = Context(prec=60)
    total = side + other
    exact = Decimal(notional) - ctx.multiply(
        Decimal(other), ctx.ln(ctx.divide(Decimal(total + notional), Decimal(total)))
    )
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


# --------------------------------------------------------------------------- run


def test_yaml_and_json_lines_give_the_same_hand_checked_state(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    (tmp_path / "tiny.jsonl").write_text(TINY_JSONL)
    db_url = f"sqlite:///{tmp_path}/tiny.db"
    code_y, yaml_state, _ = run_json(str(tmp_path / "tiny.yaml"), "--db", db_url, *TINY_PARAMS)
    code_j, json_state, _ = run_json(str(tmp_path / "tiny.jsonl"), "--memory", *TINY_PARAMS)
    assert (code_y, code_j) == (0, 0)
    assert yaml_state["digest"] == json_state["digest"]
    assert yaml_state == json_state
    assert stored_digest(db_url) == yaml_state["digest"]

    state = yaml_state
    v = 5_000 * MICRO
    notional = 1_500 * MICRO  # 300 margin at 5x
    cost = curve_cost(notional, v, v)
    assert cost == 801_190_289  # 1500 - 5000 ln(1.15) USD, rounded up to the micro-dollar
    assert state["accepted"] == 3
    assert state["rejections"] == []
    assert state["command_seq"] == 4  # genesis + three
    assert state["balances"] == {
        "external": -101_000 * MICRO,
        "insurance_fund": 100_000 * MICRO,
        "position:1": 300 * MICRO,
        "wallet:alice": 700 * MICRO,
    }
    assert state["insurance_fund"] == 100_000 * MICRO
    assert state["treasury"] == 0
    (market,) = state["markets"]
    assert {
        k: market[k] for k in ("oi_a", "oi_b", "real_oi_a", "real_oi_b", "vault", "volume")
    } == {
        "oi_a": v + notional,
        "oi_b": v,
        "real_oi_a": notional,
        "real_oi_b": 0,
        "vault": 0,
        "volume": notional,
    }
    assert market["price_a"] == "0.565217"  # 6500 / 11500
    assert market["price_b"] == "0.434783"
    (position,) = state["positions"]
    assert {k: position[k] for k in ("id", "side", "notional", "cost_basis", "margin")} == {
        "id": 1,
        "side": "A",
        "notional": notional,
        "cost_basis": cost,
        "margin": 300 * MICRO,
    }
    assert position["entry_price"] == "0.534127"
    assert position["liquidation_price"] == "0.334127"  # (cost - margin) / notional
    assert position["unrealized_pnl"] == notional * 6_500 // 11_500 - cost == 46_635_797
    for value in [
        *state["balances"].values(),
        state["insurance_fund"],
        state["treasury"],
        market["oi_a"],
        market["oi_b"],
        market["vault"],
        position["notional"],
        position["cost_basis"],
        position["margin"],
    ]:
        assert type(value) is int


def test_tiny_file_with_the_default_fee(tmp_path: Path) -> None:
    """0.1 % of 1,500 notional = 1.5 USD, split half to the fund and half to the treasury."""
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    code, state, _ = run_json(
        str(tmp_path / "tiny.yaml"),
        "--memory",
        "--param",
        "max_leverage=5",
        "--param",
        "wallet_cap=2000",
    )
    assert code == 0
    assert state["balances"]["wallet:alice"] == 698_500_000
    assert state["insurance_fund"] == 100_000_750_000
    assert state["treasury"] == 750_000
    assert state["positions"][0]["cost_basis"] == 801_190_289


def test_engine_rejections_are_listed_and_the_rest_applies(tmp_path: Path) -> None:
    file = tmp_path / "rej.yaml"
    file.write_text(
        """\
- {type: deposit, account: alice, amount: "1000"}
- {type: create_market, market: m1}
- {type: open, account: alice, market: m1, side: A, margin: "50", leverage: 3}
- {type: open, account: alice, market: m1, side: A, margin: "400", leverage: 3}
- {type: open, account: alice, market: m1, side: B, margin: "10", leverage: 4}
- {type: close, account: bob, position_id: 1}
- {type: deposit, account: bob, amount: "20"}
"""
    )
    db_url = f"sqlite:///{tmp_path}/rej.db"
    code, state, _ = run_json(str(file), "--db", db_url)
    assert code == 1
    assert [(r["line"], r["code"]) for r in state["rejections"]] == [
        (4, "WALLET_CAP_EXCEEDED"),
        (5, "LEVERAGE_TOO_HIGH"),
        (6, "NOT_FOUND"),
    ]
    assert "wallet cap" in state["rejections"][0]["message"]
    assert state["accepted"] == 4
    assert state["command_seq"] == 5
    # 0.15 USD fee on the 150 notional: 0.075 to the fund, 0.075 to the treasury.
    assert state["balances"]["wallet:alice"] == 1_000 * MICRO - 50 * MICRO - 150_000
    assert state["balances"]["wallet:bob"] == 20 * MICRO
    assert [(p["id"], p["notional"], p["margin"]) for p in state["positions"]] == [
        (1, 150 * MICRO, 50 * MICRO)
    ]
    # Rejected commands are not journalled: genesis + four accepted commands.
    assert count_rows(db_url, schema.commands) == 5


def test_liquidation_on_a_database_run_is_reported(tmp_path: Path) -> None:
    """A 20x long pushed under water by a large short is liquidated; both backends of the
    runner (memory and database) must report it and agree on the state."""
    file = tmp_path / "liq.yaml"
    file.write_text(
        """\
- {type: deposit, account: alice, amount: "1000"}
- {type: deposit, account: bob, amount: "2000"}
- {type: create_market, market: m1}
- {type: open, account: alice, market: m1, side: A, margin: "100", leverage: 20}
- {type: open, account: bob, market: m1, side: B, margin: "1000", leverage: 5}
"""
    )
    params = ["--param", "max_leverage=25", "--param", "wallet_cap=10000"]
    code_m, memory, _ = run_json(str(file), "--memory", *params)
    assert code_m == 0
    assert [(x["position"], x["account"], x["notional"]) for x in memory["liquidations"]] == [
        (1, "alice", 2_000 * MICRO)
    ]
    proc = run_cli("run", str(file), "--db", f"sqlite:///{tmp_path}/liq.db", "--json", *params)
    assert proc.returncode == 0, proc.stderr
    on_db = json.loads(proc.stdout)
    assert on_db["digest"] == memory["digest"]
    assert [(x["position"], x["account"], x["notional"]) for x in on_db["liquidations"]] == [
        (1, "alice", 2_000 * MICRO)
    ]
    assert on_db["liquidations"][0]["seized_margin"] == 100 * MICRO


# --------------------------------------------------------------------------- malformed files

MALFORMED = {
    "bad_yaml": (
        "bad.yaml",
        '- type: deposit\n  account: alice\n  amount: "100"\n'
        '- {type: deposit, account: bob, amount: "5"\n- type: create_market\n  market: m1\n',
        "INVALID_COMMAND",
        "line 5: invalid YAML",
    ),
    "unknown_field": (
        "unknown.yaml",
        '- type: deposit\n  account: alice\n  amount: "100"\n'
        '- type: deposit\n  account: bob\n  amount: "5"\n  colour: red\n',
        "INVALID_COMMAND",
        "line 4: deposit: unknown field 'colour'",
    ),
    "negative_amount": (
        "negative.yaml",
        '- type: deposit\n  account: alice\n  amount: "100"\n'
        '- type: deposit\n  account: bob\n  amount: "-5"\n',
        "INVALID_AMOUNT",
        "line 4: amount must be positive",
    ),
    "unknown_type": (
        "type.yaml",
        '- type: deposit\n  account: alice\n  amount: "100"\n- type: teleport\n  account: bob\n',
        "INVALID_COMMAND",
        "line 4: unknown command type 'teleport'",
    ),
    "nan_json": (
        "nan.jsonl",
        '{"type": "deposit", "account": "alice", "amount": "100"}\n'
        '{"type": "deposit", "account": "bob", "amount": NaN}\n',
        "INVALID_COMMAND",
        "line 2: not valid JSON",
    ),
    "nan_string_json": (
        "nan2.jsonl",
        '{"type": "deposit", "account": "alice", "amount": "100"}\n\n'
        '{"type": "deposit", "account": "bob", "amount": "NaN"}\n',
        "INVALID_AMOUNT",
        "line 3: amount must be a plain decimal number",
    ),
}


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite ledger holding the tiny file (written in process, to keep the test quick)."""
    path = tmp_path_factory.mktemp("small") / "small.db"
    file = path.with_name("tiny.jsonl")
    file.write_text(TINY_JSONL)
    params = profile("launch", fee_rate=0, max_leverage=5, wallet_cap=2000)
    with Sequencer.open(f"sqlite:///{path}", params) as sequencer:
        assert execute_file(sequencer, load_command_file(file)).rejections == []
    return path


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_exits_2_and_writes_nothing(
    case: str, tmp_path: Path, small_db: Path
) -> None:
    name, text, code, message = MALFORMED[case]
    file = tmp_path / name
    file.write_text(text)

    # No database yet: it must not be created.
    fresh = tmp_path / "fresh.db"
    proc = run_cli("run", str(file), "--db", f"sqlite:///{fresh}", "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"[{code}]" in proc.stderr
    assert message in flat(proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not fresh.exists()
    assert not Path(f"{fresh}.lock").exists()

    # An existing database is left exactly as it was.
    existing = copy_db(small_db, tmp_path / "existing.db")
    before = (stored_digest(existing), count_rows(existing, schema.commands))
    proc = run_cli("run", str(file), "--db", existing, "--json")
    assert proc.returncode == 2
    assert message in flat(proc.stderr)
    assert (stored_digest(existing), count_rows(existing, schema.commands)) == before
    assert before[1] == 4


# --------------------------------------------------------------------------- audit


@pytest.fixture(scope="module")
def audited_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small SQLite ledger with deposits, fees, an open, a partial close and a withdrawal."""
    root = tmp_path_factory.mktemp("audit")
    file = root / "cmds.yaml"
    file.write_text(
        """\
- {type: deposit, account: alice, amount: "1000"}
- {type: deposit, account: bob, amount: "500"}
- {type: create_market, market: m1}
- {type: open, account: alice, market: m1, side: A, margin: "200", leverage: 3}
- {type: open, account: bob, market: m1, side: B, margin: "100", leverage: 2}
- {type: close, account: alice, position_id: 1, notional: "250"}
- {type: withdraw, account: bob, amount: "50"}
"""
    )
    path = root / "good.db"
    proc = run_cli("run", str(file), "--db", f"sqlite:///{path}")
    assert proc.returncode == 0, proc.stderr
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path


def audit(url: str) -> tuple[int, dict[str, Any]]:
    proc = run_cli("audit", "--db", url, "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_audit_passes_on_a_good_database(audited_db: Path, tmp_path: Path) -> None:
    url = copy_db(audited_db, tmp_path / "copy.db")
    code, report = audit(url)
    assert code == 0
    assert report["ok"] is True
    assert report["violations"] == []
    assert report["commands"] == 8
    assert report["replayed_digest"] == report["stored_digest"] == stored_digest(url)
    human = run_cli("audit", "--db", url)
    assert human.returncode == 0
    assert "audit OK: 8 commands replayed" in flat(human.stdout)


def _first_posting(conn: sqlite3.Connection, kind: str) -> tuple[int, str]:
    """(txn_seq, account) of the first packed postings row of a transaction of ``kind``."""
    row = conn.execute(
        "SELECT p.txn_seq, p.account FROM postings p JOIN transactions t ON t.seq = p.txn_seq "
        "WHERE t.kind = ? ORDER BY p.txn_seq, p.account LIMIT 1",
        (kind,),
    ).fetchone()
    return int(row[0]), str(row[1])


TAMPERS = {
    "balance": (
        "UPDATE balances SET balance = balance + 1 WHERE account = 'wallet:alice'",
        "balance of wallet:alice is",
    ),
    "posting_amount": (
        "UPDATE postings SET amount = amount + 7 "
        "WHERE txn_seq = {deposit_txn} AND account = 'wallet:bob'",
        "transaction {deposit_txn} does not balance: postings sum to 7",
    ),
    "posting_deleted": (
        "DELETE FROM postings WHERE txn_seq = {open_txn} AND account = '{open_account}'",
        "transaction {open_txn} does not balance",
    ),
    "posting_account": (  # still balanced per transaction: only the replay comparison sees it
        "UPDATE postings SET account = 'wallet:mallory' "
        "WHERE txn_seq = {deposit_txn} AND account = 'wallet:bob'",
        "stored postings of transaction {deposit_txn} differ from its replay",
    ),
    "transaction_data": (
        "UPDATE transactions SET data = replace(data, '\"amount\":500000000', "
        "'\"amount\":500000001') WHERE seq = {deposit_txn}",
        "transaction {deposit_txn} differs from its replay",
    ),
    "position_margin": (
        "UPDATE positions SET margin = margin - 1 WHERE id = 2",
        "stored position 2 differs from its replay",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_audit_fails_after_tampering(case: str, audited_db: Path, tmp_path: Path) -> None:
    url = copy_db(audited_db, tmp_path / "tampered.db")
    conn = sqlite3.connect(tmp_path / "tampered.db")
    try:
        # bob's deposit (500 USD) and alice's open, located rather than assumed
        deposit_txn = conn.execute(
            "SELECT seq FROM transactions WHERE kind = 'deposit' AND data LIKE '%\"bob\"%'"
        ).fetchone()[0]
        open_txn, open_account = _first_posting(conn, "open")
        names = {"deposit_txn": deposit_txn, "open_txn": open_txn, "open_account": open_account}
        statement, expected = TAMPERS[case]
        before = conn.execute("SELECT data FROM transactions ORDER BY seq").fetchall()
        changed = conn.execute(statement.format(**names)).rowcount
        conn.commit()
        if case == "transaction_data":  # the text really changed (replace() matched)
            after = conn.execute("SELECT data FROM transactions ORDER BY seq").fetchall()
            assert after != before
            assert '"amount":500000001' in after[deposit_txn - 1][0]
    finally:
        conn.close()
    assert changed == 1
    code, report = audit(url)
    assert code == 1
    assert report["ok"] is False
    assert any(expected.format(**names) in v for v in report["violations"]), report["violations"]
    if case == "balance":  # the human-readable form too, once
        human = run_cli("audit", "--db", url)
        assert human.returncode == 1
        assert "audit FAILED" in human.stdout


# --------------------------------------------------------------------------- demo, db upgrade


def test_demo_prints_the_source_figures_and_passes_its_audit(tmp_path: Path) -> None:
    proc = run_cli("demo", "--db", str(tmp_path / "demo.db"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "audit OK" in out
    for figure in ("0.565217", "0.537190", "0.471698", "0.534127", "0.449034", "-42.358418"):
        assert figure in out, figure
    again = run_cli("audit", "--db", f"sqlite:///{tmp_path / 'demo.db'}", "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["ok"] is True


def test_db_upgrade_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    url = f"sqlite:///{path}"
    proc = run_cli("db", "upgrade", "--db", url)
    assert proc.returncode == 0, proc.stderr
    assert "is at head" in flat(proc.stdout)
    engine = make_db_engine(url)
    try:
        assert table_names(engine) == PROJECT_TABLES | {"alembic_version"}
    finally:
        engine.dispose()
    assert count_rows(url, schema.meta) == 0  # migrated, but no genesis yet
    # Idempotent.
    assert run_cli("db", "upgrade", "--db", url).returncode == 0
