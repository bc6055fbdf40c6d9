"""Asset hierarchy: clusters, classes and lowest-common-ancestor correlations.

Hand-tuning an n x n correlation grid does not scale and is easy to make inconsistent.
Instead every cluster is a leaf of a tree, and the correlation of two clusters is a
function of the kind of their lowest common ancestor (LCA) only:

* a risk-asset *class* (e.g. Crypto)      -> ``rho_within``
* the *risk* branch (different classes)   -> ``rho_cross``
* anything higher (the root, Politics...) -> 0
* a *parlay* cluster                      -> induced by its legs (measured on the paths)

The two-level factor model that generates the risk-asset paths produces exactly these
correlations, which is why ``rho_within >= rho_cross >= 0`` is required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prophex.margin._validation import as_margin_error
from prophex.margin.errors import INVALID_HIERARCHY, INVALID_PARAMETER, MarginError

NodeKind = Literal["branch", "risk", "class", "cluster"]
ClusterModel = Literal["threshold", "exclusive", "independent", "parlay"]


class NodeSpec(BaseModel):
    """One node of the hierarchy YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: NodeKind
    model: ClusterModel | None = None
    underlyings: list[str] = Field(default_factory=list)
    children: list[NodeSpec] = Field(default_factory=list)


class HierarchySpec(BaseModel):
    """The hierarchy YAML file: default correlations plus the tree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rho_within: float = 0.68
    rho_cross: float = 0.35
    root: NodeSpec


@dataclass(frozen=True, slots=True)
class Cluster:
    """A leaf of the hierarchy: the unit of exact netting and of per-cluster ES."""

    name: str
    model: ClusterModel
    path: tuple[str, ...]  # ancestor names from the root down to this cluster
    asset_class: str | None  # the risk-asset class, for threshold clusters
    underlyings: tuple[str, ...]


def check_rhos(rho_within: float, rho_cross: float) -> None:
    """Reject correlations the two-level factor model cannot produce."""
    for name, value in (("rho_within", rho_within), ("rho_cross", rho_cross)):
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise MarginError(INVALID_PARAMETER, name, f"must be in [0, 1], was {value}")
    if rho_within < rho_cross:
        raise MarginError(
            INVALID_PARAMETER,
            "rho_within",
            f"must be >= rho_cross ({rho_cross}), was {rho_within}",
        )


class Hierarchy:
    """A validated hierarchy with its LCA correlation rule."""

    def __init__(self, spec: HierarchySpec) -> None:
        check_rhos(spec.rho_within, spec.rho_cross)
        self.rho_within = spec.rho_within
        self.rho_cross = spec.rho_cross
        self.node_kinds: dict[str, NodeKind] = {}
        self.clusters: dict[str, Cluster] = {}
        self.underlying_cluster: dict[str, str] = {}
        if spec.root.kind != "branch":
            raise MarginError(
                INVALID_HIERARCHY, "root.kind", f"must be 'branch', was {spec.root.kind!r}"
            )
        self._walk(spec.root, (), "root", None)
        risk_nodes = [n for n, k in self.node_kinds.items() if k == "risk"]
        if len(risk_nodes) > 1:
            raise MarginError(
                INVALID_HIERARCHY, "root", f"at most one 'risk' branch allowed, was {risk_nodes}"
            )

    @classmethod
    def from_dict(cls, data: Any) -> Hierarchy:
        """Validate a parsed YAML mapping into a hierarchy."""
        try:
            return cls(HierarchySpec.model_validate(data))
        except ValidationError as exc:
            raise as_margin_error(exc, INVALID_HIERARCHY, "hierarchy") from exc

    def _walk(
        self, node: NodeSpec, parents: tuple[str, ...], field: str, parent: NodeKind | None
    ) -> None:
        if node.name in self.node_kinds:
            raise MarginError(
                INVALID_HIERARCHY, f"{field}.name", f"duplicate node name {node.name!r}"
            )
        self.node_kinds[node.name] = node.kind
        _check_placement(node, parent, field)
        path = (*parents, node.name)
        if node.kind == "cluster":
            self._add_cluster(node, path, field, parents[-1] if parent == "class" else None)
            return
        if not node.children:
            raise MarginError(
                INVALID_HIERARCHY,
                f"{field}.children",
                f"{node.kind} node {node.name!r} has no children",
            )
        for i, child in enumerate(node.children):
            self._walk(child, path, f"{field}.children[{i}]", node.kind)

    def _add_cluster(
        self, node: NodeSpec, path: tuple[str, ...], field: str, asset_class: str | None
    ) -> None:
        if node.model is None:
            raise MarginError(INVALID_HIERARCHY, f"{field}.model", "a cluster needs a model")
        if node.children:
            raise MarginError(INVALID_HIERARCHY, f"{field}.children", "a cluster is a leaf")
        if (node.model == "threshold") != bool(node.underlyings):
            raise MarginError(
                INVALID_HIERARCHY,
                f"{field}.underlyings",
                "threshold clusters (and only they) list underlyings",
            )
        for u in node.underlyings:
            if u in self.underlying_cluster:
                raise MarginError(
                    INVALID_HIERARCHY,
                    f"{field}.underlyings",
                    f"underlying {u!r} is in two clusters",
                )
            self.underlying_cluster[u] = node.name
        self.clusters[node.name] = Cluster(
            node.name, node.model, path, asset_class, tuple(node.underlyings)
        )

    def asset_class(self, underlying: str) -> str:
        """Return the risk-asset class whose factor drives ``underlying``."""
        cls = self.clusters[self.underlying_cluster[underlying]].asset_class
        if cls is None:  # unreachable: _check_placement puts threshold clusters in a class
            raise MarginError(INVALID_HIERARCHY, underlying, "underlying outside a risk class")
        return cls

    def lca_kind(self, a: str, b: str) -> NodeKind:
        """Return the kind of the lowest common ancestor of clusters ``a`` and ``b``."""
        pa, pb = self.clusters[a].path, self.clusters[b].path
        common = [x for x, y in zip(pa, pb, strict=False) if x == y]
        return self.node_kinds[common[-1]]

    def correlation(self, a: str, b: str, rho_within: float, rho_cross: float) -> float | None:
        """LCA correlation of two clusters; ``None`` when a parlay makes it path-induced."""
        if a == b:
            return 1.0
        if "parlay" in (self.clusters[a].model, self.clusters[b].model):
            return None
        kind = self.lca_kind(a, b)
        if kind == "cluster" or kind == "class":
            return rho_within
        if kind == "risk":
            return rho_cross
        return 0.0


def _check_placement(node: NodeSpec, parent: NodeKind | None, field: str) -> None:
    """Enforce the shapes the factor model understands."""
    threshold = node.kind == "cluster" and node.model == "threshold"
    if node.kind == "class" and parent != "risk":
        raise MarginError(
            INVALID_HIERARCHY, f"{field}.kind", "a class must sit directly under the risk branch"
        )
    if node.kind == "risk" and parent != "branch":
        raise MarginError(
            INVALID_HIERARCHY, f"{field}.kind", "the risk branch must sit under a plain branch"
        )
    if parent == "risk" and node.kind != "class":
        raise MarginError(
            INVALID_HIERARCHY, f"{field}.kind", "children of the risk branch must be classes"
        )
    if (parent == "class") != threshold:
        raise MarginError(
            INVALID_HIERARCHY,
            f"{field}.model",
            "threshold clusters must sit in a risk-asset class, and a class holds only them",
        )
    if node.kind != "cluster" and (node.model is not None or node.underlyings):
        raise MarginError(
            INVALID_HIERARCHY, f"{field}.kind", "only clusters take a model or underlyings"
        )


def load_hierarchy(path: Path | None = None) -> Hierarchy:
    """Load a hierarchy YAML file; ``None`` loads the packaged default."""
    if path is None:
        text = resources.files("prophex.margin").joinpath("data/default-hierarchy.yaml").read_text()
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise MarginError(INVALID_HIERARCHY, "hierarchy", f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MarginError(INVALID_HIERARCHY, "hierarchy", f"not valid YAML: {exc}") from exc
    return Hierarchy.from_dict(data)
