"""deploy/k8s: rendered from the code, valid offline, and what ops expect of each workload."""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.kube.check import check, schema_problems
from devstack.kube.common import (
    ISSUER_NAMESPACE,
    ISSUER_PORT,
    called_services,
    port_of,
    settings_of,
)
from devstack.kube.kustomize import build
from devstack.kube.overlays import worker_replicas
from devstack.manifests import render
from devstack.postgres import POSTGRES_MAJOR, postgres_bin
from devstack.stack import definitions
from dialog_schemas.catalog import SERVICES

K8S = Path(__file__).parents[2] / "deploy" / "k8s"


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict[str, Any]]]:
    return {name: build(K8S / "overlays" / name) for name in ("dev", "prod")}


def of_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def pod_specs(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, deployment in of_kind(documents, "Deployment").items():
        yield name, deployment["spec"]["template"]["spec"]


def test_checked_in_manifests_are_what_the_code_renders() -> None:
    on_disk = {str(p.relative_to(K8S)): p.read_text() for p in K8S.rglob("*.yaml")}
    rendered = render()
    stale = sorted(n for n in rendered.keys() | on_disk.keys() if rendered.get(n) != on_disk.get(n))
    assert stale == [], f"deploy/k8s differs from the code in {stale}; run `make manifests`"


def test_k8s_check_finds_nothing_wrong_with_the_checked_in_manifests() -> None:
    assert check(K8S) == []


def test_k8s_check_reports_a_hand_edit_of_a_checked_in_file(tmp_path: Path) -> None:
    copy_root = tmp_path / "k8s"
    for name, content in render().items():
        (copy_root / name).parent.mkdir(parents=True, exist_ok=True)
        (copy_root / name).write_text(content)
    users = copy_root / "base" / "kafka-users.yaml"
    users.write_text(users.read_text().replace("- Write\n", "- Write\n      - Delete\n", 1))
    problems = check(copy_root)
    assert (
        "base/kafka-users.yaml differs from what the code renders; run `make manifests`" in problems
    )
    assert any("holds Delete on topic" in p for p in problems)


def test_schema_validation_rejects_unknown_fields_and_wrong_types(overlays: Any) -> None:
    deployment = copy.deepcopy(of_kind(overlays["prod"], "Deployment")["consent-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert "livenessProbes" in " ".join(schema_problems(deployment))
    cluster = copy.deepcopy(of_kind(overlays["prod"], "Cluster")["dialog-pg"])
    cluster["spec"]["instances"] = "three"
    assert "'three' is not of type 'integer'" in " ".join(schema_problems(cluster))
    user = copy.deepcopy(of_kind(overlays["prod"], "KafkaUser")["consent"])
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Everything"]
    assert "'Everything' is not one of" in " ".join(schema_problems(user))
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "no schema" in " ".join(schema_problems(unknown))


def test_schema_validation_rejects_a_spread_key_in_both_match_label_keys_and_the_selector(
    overlays: Any,
) -> None:
    deployment = copy.deepcopy(of_kind(overlays["prod"], "Deployment")["consent-worker"])
    constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert schema_problems(deployment) == []
    constraints[0]["labelSelector"] = {
        "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]
    }
    constraints[1]["labelSelector"] = {"matchLabels": {"pod-template-hash": "abc"}}
    problems = " ".join(schema_problems(deployment))
    assert (
        "topologySpreadConstraints.0.matchLabelKeys.0: 'app.kubernetes.io/name' exists in both"
        " matchLabelKeys and labelSelector" in problems
    )
    assert "topologySpreadConstraints.1.matchLabelKeys.1: 'pod-template-hash' exists" in problems
    del constraints[1]["labelSelector"]
    assert "must not be specified when labelSelector is not set" in " ".join(
        schema_problems(deployment)
    )


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_process_has_probes_on_the_port_it_serves(overlays: Any, overlay: str) -> None:
    deployments = of_kind(overlays[overlay], "Deployment")
    for definition in definitions():
        for role in ("api", "worker"):
            spec = deployments[f"{definition.name}-{role}"]["spec"]["template"]["spec"]
            [container] = spec["containers"]
            port = port_of(definition, role)
            assert container["ports"] == [{"name": "http", "containerPort": port}]
            assert container["args"] == ["python", "-m", definition.name, role]
            assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            config = of_kind(overlays[overlay], "ConfigMap")[f"{definition.name}-config"]["data"]
            prefix = definition.name.upper()
            configured = "HTTP_PORT" if role == "api" else "WORKER_WEB_PORT"
            assert config[f"{prefix}_{configured}"] == str(port)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_container_runs_restricted_with_requests_and_limits(
    overlays: Any, overlay: str
) -> None:
    for name, spec in pod_specs(overlays[overlay]):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["initContainers"] + spec["containers"]:
            assert container["securityContext"] == {
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert "memory" in container["resources"]["limits"], name


def test_migrations_run_before_each_process_starts(overlays: Any) -> None:
    for name, spec in pod_specs(overlays["prod"]):
        [init] = spec["initContainers"]
        service = name.rsplit("-", 1)[0]
        assert init["args"] == ["python", "-m", service, "migrate"]
        assert init["env"] == spec["containers"][0]["env"]


def test_credentials_come_from_secrets_only(overlays: Any) -> None:
    for name, spec in pod_specs(overlays["prod"]):
        [container] = spec["containers"]
        literal = [e["name"] for e in container["env"] if "value" in e]
        assert literal == [], f"{name} sets {literal} in the manifest"
        assert {"secretRef": {"name": f"{name.rsplit('-', 1)[0]}-secrets"}} in container["envFrom"]
    for config in of_kind(overlays["prod"], "ConfigMap").values():
        assert not [k for k in config["data"] if "TOKEN" in k or "PASSWORD" in k or "SALT" in k]


def test_each_api_has_an_autoscaler_and_each_process_a_disruption_budget(overlays: Any) -> None:
    for overlay, documents in overlays.items():
        autoscalers = of_kind(documents, "HorizontalPodAutoscaler")
        budgets = of_kind(documents, "PodDisruptionBudget")
        deployments = of_kind(documents, "Deployment")
        for service in SERVICES:
            target = autoscalers[f"{service}-api"]["spec"]["scaleTargetRef"]
            assert target == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"{service}-api",
            }
            assert "replicas" not in deployments[f"{service}-api"]["spec"], "the HPA owns replicas"
            for role in ("api", "worker"):
                selector = deployments[f"{service}-{role}"]["spec"]["selector"]
                assert budgets[f"{service}-{role}"]["spec"]["selector"] == selector, overlay
    assert (
        of_kind(overlays["prod"], "HorizontalPodAutoscaler")["consent-api"]["spec"]["minReplicas"]
        >= 2
    )


def test_prod_workers_match_the_partition_count_and_spread_across_zones(overlays: Any) -> None:
    deployments = of_kind(overlays["prod"], "Deployment")
    for definition in definitions():
        partitions = settings_of(definition).topic_partitions
        replicas = deployments[f"{definition.name}-worker"]["spec"]["replicas"]
        assert replicas == worker_replicas(definition) > 1
        assert replicas <= partitions, "a replica would idle"
        assert partitions % replicas == 0, "partitions would spread unevenly"
    for name, spec in pod_specs(overlays["prod"]):
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, name
        pod_labels = of_kind(overlays["prod"], "Deployment")[name]["spec"]["template"]["metadata"][
            "labels"
        ]
        for constraint in spec["topologySpreadConstraints"]:
            selected = constraint["labelSelector"]["matchLabels"]
            assert selected.items() <= pod_labels.items(), f"{name} would not count its own pods"
            assert constraint["matchLabelKeys"] == ["app.kubernetes.io/name", "pod-template-hash"]
    assert all("topologySpreadConstraints" not in s for _, s in pod_specs(overlays["dev"]))
    assert all(
        d["spec"]["replicas"] == 1
        for n, d in of_kind(overlays["dev"], "Deployment").items()
        if n.endswith("worker")
    )


def test_each_service_has_its_own_database_and_role_from_a_secret(overlays: Any) -> None:
    [cluster] = of_kind(overlays["prod"], "Cluster").values()
    assert cluster["spec"]["instances"] == 3
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(roles) == set(SERVICES)
    assert all(r["passwordSecret"] == {"name": f"{n}-db"} for n, r in roles.items())
    databases = {
        d["spec"]["name"]: d["spec"]["owner"]
        for d in of_kind(overlays["prod"], "Database").values()
    }
    assert databases == {f"dialog_{s}": s for s in SERVICES}
    for service in SERVICES:
        config = of_kind(overlays["prod"], "ConfigMap")[f"{service}-config"]["data"]
        assert config[f"{service.upper()}_DATABASE_URL"].endswith(
            f"/dialog_{service}?sslmode=require"
        )


def test_the_database_cluster_runs_the_major_version_the_tests_run_on(overlays: Any) -> None:
    version = subprocess.run(
        [str(postgres_bin() / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout  # "postgres (PostgreSQL) 18.6"
    embedded_major = version.split()[-1].split(".")[0]
    assert embedded_major == str(POSTGRES_MAJOR)  # which the tests' container image uses too
    for overlay in ("dev", "prod"):
        [cluster] = of_kind(overlays[overlay], "Cluster").values()
        tag = cluster["spec"]["imageName"].rsplit(":", 1)[1]
        assert tag.split(".")[0] == embedded_major, f"{overlay} runs PostgreSQL {tag}"


def test_the_call_graph_of_the_settings_is_what_the_platform_does() -> None:
    calls = {d.name: called_services(d) for d in definitions()}
    assert calls == {
        "consent": ["contacts"],  # data keys
        "contacts": ["campaigns", "consent", "interactions"],  # the data-subject export
        "interactions": ["contacts"],  # data keys
        "campaigns": ["contacts"],  # data keys: outbound requests carry sealed contact points
    }


def test_the_operations_page_names_every_secret_ops_must_create() -> None:
    page = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    for definition in definitions():
        prefix = str(definition.settings.model_config.get("env_prefix", ""))
        for name in definition.settings.LOCAL_SECRETS:
            variable = f"{prefix}{name.upper()}"
            generic = f"<SERVICE>_{name.upper()}"
            assert variable in page or generic in page, f"{variable} is not in operations.md"


def _section(page: str, title: str) -> str:
    start = page.index(f"### {title}\n")
    return page[start : page.index("\n### ", start + 1)]


def test_the_operations_page_says_what_the_cluster_must_have(overlays: Any) -> None:
    page = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    needs = _section(page, "What the cluster must have")
    versions = {d["apiVersion"] for d in overlays["prod"] if d["kind"].startswith("Kafka")}
    assert versions == {"kafka.strimzi.io/v1"}  # served from Strimzi 0.49 on
    assert "Strimzi 0.49 or newer" in needs
    assert "CloudNativePG 1.28 or newer" in needs
    assert "`Database`" in needs
    assert "metrics-server" in needs  # the autoscalers read CPU from it
    assert f"namespace\n  `{ISSUER_NAMESPACE}` on port {ISSUER_PORT}" in needs
    assert "ISSUER_CIDR" in needs
    assert "ISSUER_CIDR" in _section(page, "Network")
    assert "its database `dialog_<service>`" in needs
    assert "shared cluster" in needs


def test_the_operations_page_reads_lag_from_the_metrics_the_services_serve() -> None:
    page = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    lag = _section(page, "Read lag metrics")
    root = Path(__file__).parents[2]
    sources = [*root.glob("libs/**/*.py"), *root.glob("services/**/*.py")]
    code = "".join(path.read_text() for path in sources)
    named = set(re.findall(r"\b(dialog_[a-z_]+)", lag))
    assert {"dialog_projection_lag_records", "dialog_projection_freshness_seconds"} <= named
    for metric in named:
        assert f'"{metric}"' in code, f"{metric} is named in operations.md but served by nothing"
    assert "-c worker -- python -m interactions status" in lag
