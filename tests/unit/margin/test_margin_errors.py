"""Every kind of bad input is rejected with a typed MarginError naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from helpers_margin import make_book

from prophex.margin import (
    Hierarchy,
    MarginError,
    MarginParams,
    ScenarioParams,
    compute_margin,
    params_for,
    parse_book,
)
from prophex.margin.hierarchy import check_rhos

BTC = {
    "id": "B",
    "kind": "threshold",
    "underlying": "BTC",
    "strike": 100,
    "direction": "above",
    "price": 0.4,
}
LONG_B = {"contract": "B", "side": "long", "contracts": 10}


def rejected(
    code: str, field: str, contracts: list[dict[str, Any]], positions: list[dict[str, Any]]
) -> None:
    with pytest.raises(MarginError) as info:
        make_book(contracts, positions)
    assert (info.value.code, info.value.field) == (code, field), str(info.value)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"underlying": "DOGE"}, "UNKNOWN_UNDERLYING", "contracts[0].underlying"),
        ({"price": 0.0}, "INVALID_BOOK", "contracts[0].price"),
        ({"price": 1.0}, "INVALID_BOOK", "contracts[0].price"),
        ({"price": 1.5}, "INVALID_BOOK", "contracts[0].price"),
        ({"price": -0.1}, "INVALID_BOOK", "contracts[0].price"),
        ({"strike": -5}, "INVALID_BOOK", "contracts[0].strike"),
        ({"direction": "sideways"}, "INVALID_BOOK", "contracts[0].direction"),
        ({"cluster": "ETH"}, "INVALID_BOOK", "contracts[0].cluster"),
        ({"colour": "red"}, "INVALID_BOOK", "contracts[0].colour"),
    ],
)
def test_bad_contract(change: dict[str, Any], code: str, field: str) -> None:
    rejected(code, field, [BTC | change], [LONG_B])


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"contracts": -10}, "INVALID_BOOK", "positions[0].contracts"),
        ({"contracts": 0}, "INVALID_BOOK", "positions[0].contracts"),
        ({"price": 1.2}, "INVALID_BOOK", "positions[0].price"),
        ({"side": "up"}, "INVALID_BOOK", "positions[0].side"),
        ({"contract": "NOPE"}, "UNKNOWN_CONTRACT", "positions[0].contract"),
    ],
)
def test_bad_position(change: dict[str, Any], code: str, field: str) -> None:
    rejected(code, field, [BTC], [LONG_B | change])


def test_unknown_cluster() -> None:
    game = {"id": "G", "kind": "independent", "cluster": "CHESS", "price": 0.5}
    rejected("UNKNOWN_CLUSTER", "contracts[0].cluster", [game], [])


def test_kind_must_match_its_cluster_model() -> None:
    game = {"id": "G", "kind": "independent", "cluster": "ELECTION", "price": 0.5}
    rejected("INVALID_BOOK", "contracts[0].kind", [game], [])


def test_parlay_leg_must_exist() -> None:
    parlay = {"id": "P", "kind": "parlay", "cluster": "PARLAY", "legs": ["B", "X"], "price": 0.1}
    rejected("UNKNOWN_CONTRACT", "contracts[1].legs", [BTC, parlay], [])


def test_strike_ordering_inconsistent_with_prices() -> None:
    higher = BTC | {"id": "B2", "strike": 110, "price": 0.5}  # > 110k dearer than > 100k
    rejected("INVALID_BOOK", "contracts[1].price", [BTC, higher], [])


def test_duplicate_contract_id() -> None:
    rejected("INVALID_BOOK", "contracts[1].id", [BTC, BTC], [])


def test_exclusive_group_in_two_clusters_is_rejected() -> None:
    hierarchy = Hierarchy.from_dict(
        {"root": {"name": "Root", "kind": "branch", "children": [
            {"name": "E1", "kind": "cluster", "model": "exclusive"},
            {"name": "E2", "kind": "cluster", "model": "exclusive"},
        ]}}
    )  # fmt: skip
    members = [
        {"id": "A", "kind": "exclusive", "cluster": "E1", "group": "g", "price": 0.5},
        {"id": "B", "kind": "exclusive", "cluster": "E2", "group": "g", "price": 0.5},
    ]
    with pytest.raises(MarginError) as info:
        parse_book({"contracts": members}, hierarchy)
    assert (info.value.code, info.value.field) == ("INVALID_BOOK", "contracts[1].group")


@pytest.mark.parametrize(
    ("rho_within", "rho_cross", "field"),
    [
        (1.1, 0.3, "rho_within"),
        (0.5, -0.1, "rho_cross"),
        (0.3, 0.5, "rho_within"),
        (float("nan"), 0.1, "rho_within"),
    ],
)
def test_bad_correlations(rho_within: float, rho_cross: float, field: str) -> None:
    with pytest.raises(MarginError) as info:
        check_rhos(rho_within, rho_cross)
    assert (info.value.code, info.value.field) == ("INVALID_PARAMETER", field)
    book = make_book([BTC], [LONG_B])
    with pytest.raises(MarginError):
        compute_margin(
            book, params_for(book, rho_within=rho_within, rho_cross=rho_cross, paths=1_000)
        )


@pytest.mark.parametrize(("paths", "field"), [(999, "paths"), (0, "paths"), (-5, "paths")])
def test_too_few_paths(paths: int, field: str) -> None:
    with pytest.raises(MarginError) as info:
        ScenarioParams(paths, 0, 0.68, 0.35)
    assert info.value.field == field
    empty = make_book([], [])
    with pytest.raises(MarginError):  # rejected even when nothing would be simulated
        compute_margin(empty, MarginParams(paths=paths))


def test_bad_rule_and_alpha() -> None:
    with pytest.raises(MarginError) as info:
        MarginParams(rule="average")  # type: ignore[arg-type]
    assert info.value.field == "rule"
    with pytest.raises(MarginError) as info:
        MarginParams(alpha=1.0)
    assert info.value.field == "alpha"


DEFAULT: dict[str, Any] = {
    "rho_within": 0.68,
    "rho_cross": 0.35,
    "root": {"name": "Root", "kind": "branch", "children": [
        {"name": "Risk", "kind": "risk", "children": [
            {"name": "Crypto", "kind": "class", "children": [
                {"name": "BTC", "kind": "cluster", "model": "threshold", "underlyings": ["BTC"]},
                {"name": "ETH", "kind": "cluster", "model": "threshold", "underlyings": ["ETH"]},
            ]},
        ]},
        {"name": "SPORTS", "kind": "cluster", "model": "independent"},
    ]},
}  # fmt: skip


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(DEFAULT)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["rho_within"], 0.2, "rho_within"),
        (["root", "children", 1, "name"], "BTC", "root.children[1].name"),
        (
            ["root", "children", 0, "children", 0, "children", 1, "underlyings"],
            ["BTC"],
            "root.children[0].children[0].children[1].underlyings",
        ),
        (
            ["root", "children", 0, "children", 0, "children", 1, "underlyings"],
            [],
            "root.children[0].children[0].children[1].underlyings",
        ),
        (["root", "children", 1, "model"], "threshold", "root.children[1].model"),
        (["root", "children", 0, "kind"], "class", "root.children[0].kind"),
        (["root", "kind"], "cluster", "root.kind"),
        (
            ["root", "children", 0, "children", 0, "children"],
            [],
            "root.children[0].children[0].children",
        ),
        (["root", "children", 1, "colour"], "red", "hierarchy.root.children[1].colour"),
    ],
)
def test_inconsistent_hierarchy(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(MarginError) as info:
        Hierarchy.from_dict(_broken(path, value))
    assert info.value.field == field, str(info.value)
    assert info.value.code in ("INVALID_HIERARCHY", "INVALID_PARAMETER")


def test_default_hierarchy_correlations() -> None:
    h = Hierarchy.from_dict(DEFAULT)
    assert h.correlation("BTC", "ETH", 0.7, 0.3) == 0.7
    assert h.correlation("BTC", "SPORTS", 0.7, 0.3) == 0.0
