"""NetworkPolicies: default deny; each API reachable only by ingress, its callers and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.kube.check import schema_problems
from devstack.kube.common import ISSUER_NAMESPACE, ISSUER_POD_LABELS, ISSUER_PORT, port_of
from devstack.kube.kustomize import build
from devstack.kube.network import issuer_egress, service_policies
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


def test_processes_reach_only_dns_kafka_their_database_the_issuer_callees_and_the_collector(
    policies: dict[str, Any],
) -> None:
    for definition in definitions():
        egress = policies[f"{definition.name}-egress"]["egress"]
        assert _namespaces(egress) == {"kube-system", "kafka", ISSUER_NAMESPACE, "observability"}
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
        assert {53, 9093, 5432, ISSUER_PORT, 4318} <= set(ports)
        assert all(rule.get("to") for rule in egress), "an egress rule without `to` allows all"


def test_every_process_reaches_the_token_issuer_for_its_keys_and_tokens(
    policies: dict[str, Any],
) -> None:
    issuer = {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": ISSUER_NAMESPACE}
                },
                "podSelector": {"matchLabels": ISSUER_POD_LABELS},
            }
        ],
        "ports": [{"protocol": "TCP", "port": ISSUER_PORT}],
    }
    for definition in definitions():
        # the API checks tokens against the JWKS, the worker and the API get tokens for calls
        assert issuer in policies[f"{definition.name}-egress"]["egress"], definition.name
        selected = policies[f"{definition.name}-egress"]["podSelector"]["matchLabels"]
        assert selected == {"dialog-platform/service": definition.name}


def test_an_issuer_outside_the_cluster_is_allowed_by_its_addresses_and_port() -> None:
    rule = issuer_egress("203.0.113.0/24", 443)
    assert rule == {
        "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    services = definitions()
    [egress] = [p for p in service_policies(services[0], services) if p["spec"].get("egress")]
    egress["spec"]["egress"].append(rule)
    assert schema_problems(egress) == []
