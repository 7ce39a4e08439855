"""`make k8s-check`: render every overlay and validate every object, offline.

Built-in kinds are validated against the Kubernetes JSON schemas of `KUBERNETES_VERSION`
(strict: unknown fields are errors) that the `kubernetes-validate` package ships; Strimzi and
CloudNativePG resources against the openAPIV3 schemas of their CRDs, checked in under
deploy/crd-schemas/ (see SOURCES.md there). Then the Kafka topics and grants are compared with
the catalog, both ways.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from devstack.kube.kafka import Grant, changelog_topic, grants, grants_of
from devstack.kube.kustomize import build
from devstack.kube.overlays import PROD_MIN_INSYNC_REPLICAS, PROD_TOPIC_REPLICAS
from dialog_schemas.catalog import SERVICES, TopicContract
from dialogkit.service import ServiceDefinition

KUBERNETES_VERSION = "1.33"
ROOT = Path(__file__).resolve().parents[3]
CRD_SCHEMAS = ROOT / "deploy" / "crd-schemas"
CRDS = {
    ("kafka.strimzi.io/v1", "KafkaTopic"): "kafka.strimzi.io_v1_kafkatopic.json",
    ("kafka.strimzi.io/v1", "KafkaUser"): "kafka.strimzi.io_v1_kafkauser.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_v1_cluster.json",
    ("postgresql.cnpg.io/v1", "Database"): "postgresql.cnpg.io_v1_database.json",
}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def strict(schema: Any) -> Any:
    """An openAPIV3 CRD schema as JSON Schema that, like the API server's strict field
    validation, refuses fields the CRD does not declare."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {k: strict(v) for k, v in schema.items()}
    if converted.pop("x-kubernetes-int-or-string", False):
        converted.pop("type", None)
        converted["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if converted.pop("nullable", False) and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    open_object = schema.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in converted and "additionalProperties" not in converted and not open_object:
        converted["additionalProperties"] = False
    return converted


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    schema = json.loads((CRD_SCHEMAS / CRDS[(api_version, kind)]).read_text())
    return jsonschema.Draft7Validator(strict(schema))


def describe(document: dict[str, Any]) -> str:
    meta = document.get("metadata", {})
    return f"{document.get('kind')} {meta.get('namespace', '-')}/{meta.get('name')}"


def schema_problems(document: dict[str, Any]) -> list[str]:
    """Why the object is not valid for Kubernetes `KUBERNETES_VERSION` or its CRD."""
    key = (document.get("apiVersion", ""), document.get("kind", ""))
    if key in CRDS:
        name = document.get("metadata", {}).get("name", "")
        problems = [] if NAME.match(name) else [f"metadata.name {name!r} is not a DNS name"]
        for error in sorted(crd_validator(*key).iter_errors(document), key=str):
            place = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{place}: {error.message}")
        return [f"{describe(document)}: {p}" for p in problems]
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        place = ".".join(str(p) for p in error.path)
        return [f"{describe(document)}: {place}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{describe(document)}: no schema for {key} in Kubernetes {KUBERNETES_VERSION}"]
    return [f"{describe(document)}: {p}" for p in spread_problems(document)]


def _pod_spec(document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The pod spec of a Pod or of a workload's pod template, with its path."""
    spec = document.get("spec") or {}
    if document.get("kind") == "Pod":
        return "spec", spec
    if document.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        return "spec.jobTemplate.spec.template.spec", (spec.get("template") or {}).get("spec") or {}
    return "spec.template.spec", (spec.get("template") or {}).get("spec") or {}


def spread_problems(document: dict[str, Any]) -> list[str]:
    """What the API server's validation refuses in topology spread constraints and the JSON
    schemas cannot say: `matchLabelKeys` without a `labelSelector`, and a key both in
    `matchLabelKeys` and in the `labelSelector` ("exists in both matchLabelKeys and
    labelSelector", Kubernetes `validateMatchLabelKeysInTopologySpread`)."""
    place, spec = _pod_spec(document)
    problems = []
    for i, constraint in enumerate(spec.get("topologySpreadConstraints") or []):
        keys = constraint.get("matchLabelKeys") or []
        here = f"{place}.topologySpreadConstraints.{i}.matchLabelKeys"
        selector = constraint.get("labelSelector")
        if keys and selector is None:
            problems.append(f"{here}: must not be specified when labelSelector is not set")
            continue
        selected = set((selector or {}).get("matchLabels") or {}) | {
            e.get("key") for e in (selector or {}).get("matchExpressions") or []
        }
        problems += [
            f"{here}.{j}: {k!r} exists in both matchLabelKeys and labelSelector"
            for j, k in enumerate(keys)
            if k in selected
        ]
    return problems


def _of_kind(documents: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("kind") == kind]


def catalog_problems(
    documents: Sequence[dict[str, Any]],
    topics: Sequence[TopicContract],
    definitions: Sequence[ServiceDefinition],
    *,
    prod: bool = False,
) -> list[str]:
    """Differences, both ways, between the Kafka resources and what the catalog says."""
    problems: list[str] = []
    expected = {t.name: t.config for t in topics}
    for definition in definitions:
        for table in definition.state_tables:
            expected[changelog_topic(definition.name, table)] = {"cleanup.policy": "compact"}
    rendered = {d["spec"]["topicName"]: d for d in _of_kind(documents, "KafkaTopic")}
    problems += [
        f"topic {t} is in the catalog but has no KafkaTopic"
        for t in sorted(expected.keys() - rendered.keys())
    ]
    problems += [
        f"KafkaTopic {t} is not in the catalog" for t in sorted(rendered.keys() - expected.keys())
    ]
    for name in sorted(expected.keys() & rendered.keys()):
        config = {k: str(v) for k, v in rendered[name]["spec"].get("config", {}).items()}
        for key, value in expected[name].items():
            if config.get(key) != value:
                problems.append(
                    f"KafkaTopic {name}: {key} is {config.get(key)}, catalog says {value}"
                )
        if prod and rendered[name]["spec"].get("replicas") != PROD_TOPIC_REPLICAS:
            problems.append(f"KafkaTopic {name}: replicas must be {PROD_TOPIC_REPLICAS} in prod")
        if prod and config.get("min.insync.replicas") != str(PROD_MIN_INSYNC_REPLICAS):
            problems.append(f"KafkaTopic {name}: min.insync.replicas must be 2 in prod")
    users = {d["metadata"]["name"]: d for d in _of_kind(documents, "KafkaUser")}
    problems += [
        f"KafkaUser {u} belongs to no service" for u in sorted(users.keys() - set(SERVICES))
    ]
    by_name = {d.name: d for d in definitions}
    for service in SERVICES:
        if service not in users:
            problems.append(f"service {service} has no KafkaUser")
            continue
        problems += grant_problems(
            service, grants(service, topics, by_name[service]), grants_of(users[service])
        )
    return problems


def grant_problems(service: str, expected: set[Grant], held: set[Grant]) -> list[str]:
    missing = [
        f"KafkaUser {service} lacks {g.operation} on {g.resource} {g.name}"
        for g in sorted(expected - held)
    ]
    extra = [
        f"KafkaUser {service} holds {g.operation} on {g.resource} {g.name},"
        " which the catalog does not grant"
        for g in sorted(held - expected)
    ]
    return missing + extra


def check(folder: Path) -> list[str]:
    """Every problem of the checked-in manifests under `folder`; empty when all is well."""
    from devstack.manifests import OVERLAYS, render
    from devstack.stack import definitions
    from dialog_schemas.catalog import TOPICS

    on_disk = {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*.yaml")}
    rendered = render()
    problems = [
        f"{name} differs from what the code renders; run `make manifests`"
        for name in sorted(on_disk.keys() | rendered.keys())
        if on_disk.get(name) != rendered.get(name)
    ]
    for overlay in OVERLAYS:
        documents = build(folder / "overlays" / overlay)
        for document in documents:
            problems += [f"{overlay}: {p}" for p in schema_problems(document)]
        problems += [
            f"{overlay}: {p}"
            for p in catalog_problems(documents, TOPICS, definitions(), prod=overlay == "prod")
        ]
    return problems


def main(argv: Sequence[str]) -> int:
    from devstack.manifests import OVERLAYS

    folder = Path(argv[0]) if argv else ROOT / "deploy" / "k8s"
    problems = check(folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"k8s-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"k8s-check: {', '.join(OVERLAYS)} valid for Kubernetes {KUBERNETES_VERSION} and the"
        " Strimzi and CloudNativePG CRDs; topics and grants match the catalog"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
