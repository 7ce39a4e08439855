"""NetworkPolicies: default deny; each API reachable only by ingress, its callers and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.kube.common import port_of
from devstack.kube.kustomize import build
from devstack.stack import definitions

K8S = Path(__file__).parents[2] / "deploy" / "k8s"


@pytest.fixture(scope="module")
def policies() -> dict[str, dict[str, Any]]:
    documents = build(K8S / "overlays" / "prod")
    return {d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "NetworkPolicy"}


def test_everything_is_denied_unless_allowed(policies: dict[str, Any]) -> None:
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def _callers(rule: dict[str, Any]) -> set[str]:
    return {
        peer["podSelector"]["matchLabels"]["dialog-platform/service"]
        for peer in rule["from"]
        if "podSelector" in peer and "namespaceSelector" not in peer
    }


def _namespaces(rules: list[dict[str, Any]]) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in rules
        for peer in rule.get("from", rule.get("to", []))
        if "namespaceSelector" in peer
    }


def test_apis_take_traffic_from_ingress_their_callers_and_monitoring(
    policies: dict[str, Any],
) -> None:
    expected_callers = {
        "contacts": {"campaigns", "consent", "interactions"},  # data keys
        "consent": {"contacts"},  # the export
        "interactions": {"contacts"},
        "campaigns": {"contacts"},
    }
    for service, callers in expected_callers.items():
        ingress = policies[f"{service}-api-ingress"]["ingress"]
        assert _callers(ingress[0]) == callers, service
        assert _namespaces(ingress) == {"ingress-nginx", "monitoring"}
        port = port_of(next(d for d in definitions() if d.name == service), "api")
        assert all(r["ports"] == [{"protocol": "TCP", "port": port}] for r in ingress)
        worker = policies[f"{service}-worker-ingress"]["ingress"]
        assert _namespaces(worker) == {"monitoring"}


def test_processes_reach_only_dns_kafka_their_database_callees_and_the_collector(
    policies: dict[str, Any],
) -> None:
    for definition in definitions():
        egress = policies[f"{definition.name}-egress"]["egress"]
        assert _namespaces(egress) == {"kube-system", "kafka", "observability"}
        ports = sorted(p["port"] for rule in egress for p in rule["ports"])
        peers = sorted(
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in egress
            for peer in rule["to"]
            if "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})
            and "namespaceSelector" not in peer
        )
        called = {
            "consent": ["contacts-api"],
            "contacts": ["campaigns-api", "consent-api", "interactions-api"],
            "interactions": ["contacts-api"],
            "campaigns": ["contacts-api"],
        }[definition.name]
        assert peers == called
        assert {53, 9093, 5432, 4318} <= set(ports)
        assert all(rule.get("to") for rule in egress), "an egress rule without `to` allows all"
