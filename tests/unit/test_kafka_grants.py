"""Kafka topics and users in deploy/k8s against the catalog: derived from it, checked both ways."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from devstack.kube.check import catalog_problems
from devstack.kube.kafka import Grant, grants_of
from devstack.kube.kustomize import build
from devstack.stack import definitions
from dialog_schemas.catalog import CONSENT_EVENTS, DAY_MS, SERVICES, TOPICS, dead_letter_topic
from dialogkit.service import ServiceDefinition
from dialogkit.worker import StreamWorker

K8S = Path(__file__).parents[2] / "deploy" / "k8s"


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    return build(K8S / "overlays" / "prod")


def faust_names(definition: ServiceDefinition) -> tuple[str, set[str]]:
    """The consumer group and changelog topics faust itself uses for the service's worker."""
    settings = definition.settings.model_construct()
    worker = StreamWorker(definition.name, settings, [])
    for name, topic in definition.state_tables.items():
        worker.add_state_table(name, topic)
    changelogs = {t.changelog_topic.get_topic_name() for t in worker.app.tables.values()}
    return worker.app.conf.id, changelogs


def expected_grants(service: str) -> set[Grant]:
    """Written out from the catalog without the renderer's code: what the service may do."""
    [definition] = [d for d in definitions() if d.name == service]
    group, changelogs = faust_names(definition)
    expected = {Grant("group", group, "Read")}
    for topic in TOPICS:
        if service in topic.producers:
            expected |= {
                Grant("topic", topic.name, "Write"),
                Grant("topic", topic.name, "Describe"),
            }
        if service in topic.consumers:
            expected |= {Grant("topic", topic.name, "Read"), Grant("topic", topic.name, "Describe")}
    for name in changelogs:
        expected |= {Grant("topic", name, op) for op in ("Create", "Describe", "Read", "Write")}
    return expected


def users(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == "KafkaUser"}


def test_each_service_holds_exactly_the_grants_the_catalog_gives_it(
    prod: list[dict[str, Any]],
) -> None:
    rendered = users(prod)
    assert set(rendered) == set(SERVICES)
    for service in SERVICES:
        assert grants_of(rendered[service]) == expected_grants(service), service
        assert rendered[service]["spec"]["authentication"] == {"type": "scram-sha-512"}


def test_the_consent_worker_may_create_only_its_table_changelog(prod: list[dict[str, Any]]) -> None:
    creates = {
        g.name for s in SERVICES for g in grants_of(users(prod)[s]) if g.operation == "Create"
    }
    assert creates == {"consent-worker-consent-state-changelog"}
    topics = {d["spec"]["topicName"]: d["spec"] for d in prod if d["kind"] == "KafkaTopic"}
    assert topics["consent-worker-consent-state-changelog"]["config"]["cleanup.policy"] == "compact"


def test_every_catalog_topic_is_a_kafka_topic_with_its_retention_and_prod_replication(
    prod: list[dict[str, Any]],
) -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in prod if d["kind"] == "KafkaTopic"}
    assert {t.name for t in TOPICS} <= set(topics)
    for contract in TOPICS:
        spec = topics[contract.name]
        assert spec["replicas"] == 3
        assert spec["config"]["min.insync.replicas"] == 2
        assert spec["config"]["cleanup.policy"] == contract.config["cleanup.policy"]
    assert topics["consent.state.v1"]["config"]["cleanup.policy"] == "compact"
    assert topics[dead_letter_topic("contacts")]["config"]["retention.ms"] == 30 * DAY_MS
    dev = build(K8S / "overlays" / "dev")
    assert {d["spec"]["replicas"] for d in dev if d["kind"] == "KafkaTopic"} == {1}


def test_what_the_workers_read_and_write_is_granted_by_the_catalog() -> None:
    """The catalog must cover the code, or the worker would be refused in production."""
    for definition in definitions():
        settings = definition.settings.model_construct()
        granted = expected_grants(definition.name)
        for projection in definition.projections(settings, None):  # type: ignore[arg-type]
            assert Grant("topic", projection.source.name, "Read") in granted, projection.name
        for route in definition.ingress:
            assert Grant("topic", route.source.name, "Read") in granted, route.name
            assert Grant("topic", route.target.name, "Write") in granted, route.name
        dead_letters = dead_letter_topic(definition.name)
        assert Grant("topic", dead_letters, "Write") in granted


def test_no_problems_between_the_manifests_and_the_catalog(prod: list[dict[str, Any]]) -> None:
    assert catalog_problems(prod, TOPICS, definitions(), prod=True) == []


def test_a_grant_missing_from_a_user_is_caught(prod: list[dict[str, Any]]) -> None:
    documents = copy.deepcopy(prod)
    acls = users(documents)["interactions"]["spec"]["authorization"]["acls"]
    acls[:] = [a for a in acls if a["resource"]["name"] != "consent.events.v1"]
    assert catalog_problems(documents, TOPICS, definitions()) == [
        "KafkaUser interactions lacks Describe on topic consent.events.v1",
        "KafkaUser interactions lacks Read on topic consent.events.v1",
    ]


def test_a_grant_beyond_the_catalog_is_caught(prod: list[dict[str, Any]]) -> None:
    documents = copy.deepcopy(prod)
    acls = users(documents)["campaigns"]["spec"]["authorization"]["acls"]
    acls.append(
        {"resource": {"type": "topic", "name": "consent.events.v1"}, "operations": ["Write"]}
    )
    [problem] = catalog_problems(documents, TOPICS, definitions())
    assert problem == (
        "KafkaUser campaigns holds Write on topic consent.events.v1,"
        " which the catalog does not grant"
    )


def test_a_prefixed_grant_is_refused(prod: list[dict[str, Any]]) -> None:
    documents = copy.deepcopy(prod)
    acls = users(documents)["campaigns"]["spec"]["authorization"]["acls"]
    acls[0]["resource"]["patternType"] = "prefix"
    with pytest.raises(ValueError, match="prefixed ACL"):
        catalog_problems(documents, TOPICS, definitions())


def test_a_catalog_grant_the_manifests_lack_is_caught(prod: list[dict[str, Any]]) -> None:
    wider = dataclasses.replace(CONSENT_EVENTS, producers=("consent", "campaigns"))
    catalog = [wider if t is CONSENT_EVENTS else t for t in TOPICS]
    assert catalog_problems(prod, catalog, definitions()) == [
        "KafkaUser campaigns lacks Write on topic consent.events.v1"
    ]


def test_a_topic_missing_on_either_side_is_caught(prod: list[dict[str, Any]]) -> None:
    without_document = [
        d for d in prod if d.get("spec", {}).get("topicName") != "contacts.ingress.v1"
    ]
    assert catalog_problems(without_document, TOPICS, definitions()) == [
        "topic contacts.ingress.v1 is in the catalog but has no KafkaTopic"
    ]
    catalog = [t for t in TOPICS if t.name != "contacts.ingress.v1"]
    problems = catalog_problems(prod, catalog, definitions())
    assert "KafkaTopic contacts.ingress.v1 is not in the catalog" in problems
    assert (
        "KafkaUser contacts holds Read on topic contacts.ingress.v1,"
        " which the catalog does not grant" in problems
    )


def test_retention_compaction_and_prod_replication_differences_are_caught(
    prod: list[dict[str, Any]],
) -> None:
    documents = copy.deepcopy(prod)
    topics = {d["spec"]["topicName"]: d for d in documents if d["kind"] == "KafkaTopic"}
    topics["consent.state.v1"]["spec"]["config"]["cleanup.policy"] = "delete"
    topics["interactions.ingress.v1"]["spec"]["config"]["retention.ms"] = DAY_MS
    topics["consent.events.v1"]["spec"]["replicas"] = 1
    assert catalog_problems(documents, TOPICS, definitions(), prod=True) == [
        "KafkaTopic consent.events.v1: replicas must be 3 in prod",
        "KafkaTopic consent.state.v1: cleanup.policy is delete, catalog says compact",
        f"KafkaTopic interactions.ingress.v1: retention.ms is {DAY_MS}, catalog says {14 * DAY_MS}",
    ]


def test_a_service_without_a_user_is_caught(prod: list[dict[str, Any]]) -> None:
    documents = [
        d for d in prod if not (d["kind"] == "KafkaUser" and d["metadata"]["name"] == "consent")
    ]
    assert catalog_problems(documents, TOPICS, definitions()) == [
        "service consent has no KafkaUser"
    ]
