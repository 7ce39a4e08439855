"""NetworkPolicies: nothing moves in the namespace unless a policy here allows it.

Each API takes traffic from the ingress controller's namespace, from the services that call it
(their `<peer>_url` settings) and from the monitoring namespace (metrics); each worker only from
monitoring. Each process may reach DNS, the Kafka brokers, the PostgreSQL cluster, the OAuth2
token issuer (its JWKS, to check tokens, and its token endpoint, for tokens of the service's own
calls), the APIs its service calls and the OpenTelemetry collector, and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devstack.kube.common import (
    INGRESS_NAMESPACE,
    ISSUER_CIDR,
    ISSUER_NAMESPACE,
    ISSUER_POD_LABELS,
    ISSUER_PORT,
    KAFKA_CLUSTER,
    KAFKA_NAMESPACE,
    KAFKA_PORT,
    MONITORING_NAMESPACE,
    OTEL_COLLECTOR,
    OTEL_NAMESPACE,
    OTEL_PORT,
    PART_OF,
    POSTGRES_CLUSTER,
    POSTGRES_PORT,
    SERVICE_LABEL,
    called_services,
    metadata,
    port_of,
    selector,
)
from dialogkit.service import ServiceDefinition

CNPG_LABEL = "cnpg.io/cluster"
CNPG_OPERATOR_NAMESPACE = "cnpg-system"


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _in_namespace(namespace: str, pod_labels: dict[str, str]) -> dict[str, Any]:
    return {**_namespace(namespace), "podSelector": {"matchLabels": pod_labels}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _policy(name: str, pod_selector: dict[str, str], **rules: Any) -> dict[str, Any]:
    types = [t for t in ("Ingress", "Egress") if t.lower() in rules]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name),
        "spec": {"podSelector": {"matchLabels": pod_selector}, "policyTypes": types, **rules},
    }


DNS = {
    "to": [_in_namespace("kube-system", {"k8s-app": "kube-dns"})],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def issuer_egress(cidr: str | None = ISSUER_CIDR, port: int = ISSUER_PORT) -> dict[str, Any]:
    """The egress rule to the OAuth2 token issuer: every API fetches its JWKS (`AUTH_JWKS_URL`)
    to check tokens and every service gets tokens for its calls at `AUTH_TOKEN_URL`. The issuer's
    pods in ISSUER_NAMESPACE, or the addresses `cidr` of an issuer outside the cluster."""
    if cidr:
        return {"to": [{"ipBlock": {"cidr": cidr}}], "ports": _tcp(port)}
    return {"to": [_in_namespace(ISSUER_NAMESPACE, ISSUER_POD_LABELS)], "ports": _tcp(port)}


def default_deny() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata("default-deny"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def callers_of(service: str, definitions: Sequence[ServiceDefinition]) -> list[str]:
    return sorted(d.name for d in definitions if service in called_services(d))


def service_policies(
    definition: ServiceDefinition, definitions: Sequence[ServiceDefinition]
) -> list[dict[str, Any]]:
    name = definition.name
    by_name = {d.name: d for d in definitions}
    metrics_scrape = {"from": [_namespace(MONITORING_NAMESPACE)]}
    callers = [
        {"podSelector": {"matchLabels": {SERVICE_LABEL: c}}} for c in callers_of(name, definitions)
    ]
    egress = [
        DNS,
        {
            "to": [
                _in_namespace(
                    KAFKA_NAMESPACE,
                    {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka"},
                )
            ],
            "ports": _tcp(KAFKA_PORT),
        },
        {
            "to": [{"podSelector": {"matchLabels": {CNPG_LABEL: POSTGRES_CLUSTER}}}],
            "ports": _tcp(POSTGRES_PORT),
        },
        issuer_egress(),
        {
            "to": [_in_namespace(OTEL_NAMESPACE, {"app.kubernetes.io/name": OTEL_COLLECTOR})],
            "ports": _tcp(OTEL_PORT),
        },
        *(
            {
                "to": [{"podSelector": {"matchLabels": selector(peer, "api")}}],
                "ports": _tcp(port_of(by_name[peer], "api")),
            }
            for peer in called_services(definition)
        ),
    ]
    return [
        _policy(
            f"{name}-api-ingress",
            selector(name, "api"),
            ingress=[
                {
                    "from": [_namespace(INGRESS_NAMESPACE), *callers],
                    "ports": _tcp(port_of(definition, "api")),
                },
                {**metrics_scrape, "ports": _tcp(port_of(definition, "api"))},
            ],
        ),
        _policy(
            f"{name}-worker-ingress",
            selector(name, "worker"),
            ingress=[{**metrics_scrape, "ports": _tcp(port_of(definition, "worker"))}],
        ),
        _policy(f"{name}-egress", {SERVICE_LABEL: name}, egress=egress),
    ]


def database_policy() -> dict[str, Any]:
    """The PostgreSQL cluster: the platform's processes, its own instances and its operator in;
    its instances out to each other, DNS and the Kubernetes API (backups go where ops send them).
    """
    own = {"podSelector": {"matchLabels": {CNPG_LABEL: POSTGRES_CLUSTER}}}
    return _policy(
        POSTGRES_CLUSTER,
        {CNPG_LABEL: POSTGRES_CLUSTER},
        ingress=[
            {
                "from": [
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}},
                    own,
                ],
                "ports": _tcp(POSTGRES_PORT),
            },
            {"from": [_namespace(CNPG_OPERATOR_NAMESPACE)], "ports": _tcp(8000, POSTGRES_PORT)},
            {**{"from": [_namespace(MONITORING_NAMESPACE)]}, "ports": _tcp(9187)},
        ],
        egress=[{}],  # instances reach the API server and the backup store; see operations.md
    )


def network_documents(definitions: Sequence[ServiceDefinition]) -> list[dict[str, Any]]:
    documents = [default_deny(), database_policy()]
    for definition in definitions:
        documents += service_policies(definition, definitions)
    return documents
