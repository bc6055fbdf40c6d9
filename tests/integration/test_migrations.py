"""Alembic migrations on both backends: up, down, up again, no drift, data kept."""

from __future__ import annotations

import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers_db import (
    PROJECT_TABLES,
    count_rows,
    flat,
    run_cli,
    stored_digest,
    table_names,
)
from sqlalchemy import Engine, inspect, text

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Close, CreateMarket, Deposit, Open
from prophex.engine.state import digest
from prophex.ledger import migrate, schema
from prophex.ledger.store import make_db_engine
from prophex.params import profile


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))


def expected_indexes() -> dict[str, set[str]]:
    return {
        table.name: {index.name for index in table.indexes if index.name}
        for table in schema.metadata.sorted_tables
    }


def test_expected_tables_are_the_eleven_of_the_schema() -> None:
    assert {
        "blocks", "commands", "transactions", "postings",
        "balances", "markets", "positions", "client_orders", "meta", "api_keys", "writer",
        "margin_accounts",
        "api_orders", "api_idempotency", "api_account_events",
    } == PROJECT_TABLES  # fmt: skip


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    engine = make_db_engine(db_url)
    try:
        assert table_names(engine) & PROJECT_TABLES == set()
        migrate.upgrade(engine)
        assert table_names(engine) == PROJECT_TABLES | {"alembic_version"}
        assert current_revision(engine) == head_revision(engine)
        inspector = inspect(engine)
        for table, indexes in expected_indexes().items():
            found = {
                i["name"]
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")  # PostgreSQL lists UNIQUE's own index
            }
            assert found == indexes, table
        assert drift(engine) == []

        migrate.downgrade(engine, "base")
        assert table_names(engine) & PROJECT_TABLES == set()
        assert current_revision(engine) is None

        migrate.upgrade(engine)
        assert table_names(engine) == PROJECT_TABLES | {"alembic_version"}
        assert current_revision(engine) == head_revision(engine)
        assert drift(engine) == []
    finally:
        engine.dispose()


def test_reupgrade_is_a_no_op_that_keeps_the_data(db_url: str) -> None:
    commands = [
        Deposit(account="alice", amount=900_000_000),
        Deposit(account="bob", amount=400_000_000),
        CreateMarket(market="m1"),
        Open(account="alice", market="m1", side="A", margin=200_000_000, leverage_centi=300),
        Open(account="bob", market="m1", side="B", margin=100_000_000, leverage_centi=250),
        Close(account="alice", position_id=1, notional=150_000_000),
    ]
    with Sequencer.open(db_url, profile("launch"), block_size=2) as sequencer:
        outcomes = sequencer.execute(commands)
        assert [type(o).__name__ for o in outcomes] == ["Receipt"] * len(commands)
        expected = digest(sequencer.state)
    blocks = count_rows(db_url, schema.blocks)
    rows = count_rows(db_url, schema.commands)
    assert (blocks, rows) == (4, 7)  # genesis, then three blocks of two commands

    engine = make_db_engine(db_url)
    try:
        migrate.upgrade(engine)
        assert current_revision(engine) == head_revision(engine)
        assert drift(engine) == []
    finally:
        engine.dispose()
    cli = run_cli("db", "upgrade", "--db", db_url)
    assert cli.returncode == 0, cli.stderr
    assert "is at head" in flat(cli.stdout)

    assert stored_digest(db_url) == expected
    assert count_rows(db_url, schema.blocks) == blocks
    assert count_rows(db_url, schema.commands) == rows
    with Sequencer.open(db_url) as reopened:  # open migrates too, and must keep the state
        assert digest(reopened.state) == expected


def test_migrations_ship_as_package_data() -> None:
    """A wheel (not only a checkout) holds every migration: they live in the package and the
    package-data globs of pyproject.toml match each file of ``prophex/migrations/``."""
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    package = Path(schema.__file__).resolve().parents[1]
    assert package / "migrations" == migrate.MIGRATIONS
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["prophex"]
    files = [
        p.relative_to(package).as_posix()
        for p in sorted(migrate.MIGRATIONS.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "migrations/versions/0001_initial_schema.py" in files
    unshipped = [f for f in files if not any(fnmatch(f, g) for g in globs)]
    assert unshipped == []


def _postings(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM postings ORDER BY 1, 2"))]


def _canonical_postings(engine: Engine) -> list[tuple[int, int, str, int]]:
    """Every individual posting, as the hash-chained canonical texts hold them."""
    with engine.connect() as conn:
        texts = conn.execute(text("SELECT seq, data FROM transactions ORDER BY seq")).all()
    return [
        (int(seq), idx, str(account), int(amount))
        for seq, data in texts
        for idx, (account, amount) in enumerate(json.loads(data)["postings"])
    ]


def test_0007_packs_and_unpacks_existing_postings(db_url: str) -> None:
    """Data written at head survives 0007's downgrade (postings rebuilt one per posting from the
    canonical texts) and its upgrade (packed again per transaction and account), and the audit
    passes at head afterwards with the same digest."""
    commands = [
        Deposit(account="alice", amount=900_000_000),
        Deposit(account="bob", amount=400_000_000),
        CreateMarket(market="m1"),
        Open(account="alice", market="m1", side="A", margin=200_000_000, leverage_centi=300),
        Open(account="bob", market="m1", side="B", margin=100_000_000, leverage_centi=250),
        Close(account="alice", position_id=1, notional=150_000_000),
    ]
    with Sequencer.open(db_url, profile("launch"), block_size=2) as sequencer:
        sequencer.execute(commands)
        expected = digest(sequencer.state)
    engine = make_db_engine(db_url)
    try:
        packed = _postings(engine)
        individual = _canonical_postings(engine)
        assert len(individual) > len(packed) > 0  # an open's margin and fee share the wallet row
        migrate.downgrade(engine, "0006_speed")
        assert current_revision(engine) == "0006_speed"
        assert _postings(engine) == individual
        migrate.upgrade(engine)
        assert current_revision(engine) == head_revision(engine)
        assert drift(engine) == []
        assert _postings(engine) == packed
        report = audit_database(engine)
        assert report.ok, report.violations
        assert report.replayed_digest == report.stored_digest == expected
    finally:
        engine.dispose()


def test_sqlite_journal_keys_are_rowids(tmp_path: Path) -> None:
    """No journal table carries a key index beside its rows: the sequence keys are
    ``INTEGER PRIMARY KEY`` (rowid aliases) and ``postings`` is ``WITHOUT ROWID``."""
    engine = make_db_engine(f"sqlite:///{tmp_path}/keys.db")
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            autoindexes = conn.execute(
                text("SELECT tbl_name FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_%'")
            ).scalars()
            journal = {"blocks", "commands", "transactions", "postings"}
            assert journal & set(autoindexes) == set()
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'postings'")
            ).scalar_one()
            assert "WITHOUT ROWID" in ddl
    finally:
        engine.dispose()
