"""docs/sdk.md is the output of ``python -m prophex.sdk.docgen``: regenerate it after
changing a docstring or a signature of the SDK."""

from __future__ import annotations

import ast
from pathlib import Path

from prophex.api.server import REPO_ROOT
from prophex.sdk import AsyncProphexClient, docgen


def test_committed_reference_is_current() -> None:
    committed = (REPO_ROOT / "docs" / "sdk.md").read_text()
    assert committed == docgen.render(), "run: python -m prophex.sdk.docgen > docs/sdk.md"


def test_every_endpoint_is_documented() -> None:
    text = docgen.render()
    for name in dir(AsyncProphexClient):
        if not name.startswith("_"):
            assert f"client.{name}(" in text, name


def test_the_sdk_imports_nothing_from_the_server() -> None:
    for path in Path(REPO_ROOT / "prophex" / "sdk").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("prophex.api"), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("prophex.api") for a in node.names), path
