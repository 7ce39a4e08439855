"""Strimzi resources: a KafkaTopic per catalog topic and a KafkaUser per service.

A service's grants follow from the catalog alone: it writes the topics it produces, reads the
topics it consumes, joins its worker's consumer group, and owns the changelog topics of its
worker's faust tables. Nothing else: no cluster rights, no prefixes, no topic creation outside
its own changelogs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from devstack.kube.common import KAFKA_CLUSTER, NAMESPACE, metadata, settings_of
from dialog_schemas.catalog import SERVICES, TopicContract
from dialogkit.config import ServiceSettings
from dialogkit.service import ServiceDefinition
from dialogkit.worker_setup import faust_settings

STRIMZI_API = "kafka.strimzi.io/v1"
CLUSTER_LABEL = {"strimzi.io/cluster": KAFKA_CLUSTER}


@dataclass(frozen=True, order=True)
class Grant:
    """One allowed operation on one Kafka resource (always a literal name)."""

    resource: str  # topic | group
    name: str
    operation: str


def consumer_group(service: str) -> str:
    """The worker's consumer group: faust names it after the app id."""
    return str(faust_settings(service, ServiceSettings.model_construct())["id"])


def changelog_topic(service: str, table: str) -> str:
    """faust's name for a table's changelog topic: `<app id>-<table>-changelog`."""
    return f"{consumer_group(service)}-{table}-changelog"


def grants(
    service: str, topics: Iterable[TopicContract], definition: ServiceDefinition
) -> set[Grant]:
    """What the catalog (and the worker's faust tables) say this service may do on Kafka."""
    found: set[Grant] = set()
    for topic in topics:
        if service in topic.producers:
            found |= {Grant("topic", topic.name, op) for op in ("Describe", "Write")}
        if service in topic.consumers:
            found |= {Grant("topic", topic.name, op) for op in ("Describe", "Read")}
    if found:
        found.add(Grant("group", consumer_group(service), "Read"))
    for table in definition.state_tables:
        name = changelog_topic(service, table)
        found |= {Grant("topic", name, op) for op in ("Create", "Describe", "Read", "Write")}
    return found


def acl_rules(granted: Iterable[Grant]) -> list[dict[str, Any]]:
    """Strimzi ACL rules, one per resource with its operations."""
    by_resource: dict[tuple[str, str], list[str]] = {}
    for grant in sorted(granted):
        by_resource.setdefault((grant.resource, grant.name), []).append(grant.operation)
    return [
        {
            "resource": {"type": kind, "name": name, "patternType": "literal"},
            "operations": operations,
        }
        for (kind, name), operations in sorted(by_resource.items())
    ]


def grants_of(user: dict[str, Any]) -> set[Grant]:
    """The grants a rendered KafkaUser holds; prefixes, denials and hosts are refused."""
    found: set[Grant] = set()
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        if rule.get("type", "allow") != "allow" or rule.get("host", "*") != "*":
            raise ValueError(f"{user['metadata']['name']}: only plain allow rules are expected")
        if resource.get("patternType", "literal") != "literal":
            raise ValueError(f"{user['metadata']['name']}: prefixed ACL on {resource}")
        found |= {Grant(resource["type"], resource["name"], op) for op in rule["operations"]}
    return found


def kafka_user(service: str, granted: set[Grant]) -> dict[str, Any]:
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaUser",
        "metadata": metadata(service, labels=dict(CLUSTER_LABEL)),
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acl_rules(granted)},
        },
    }


def kafka_topic(name: str, partitions: int, config: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaTopic",
        "metadata": metadata(topic_resource_name(name), labels=dict(CLUSTER_LABEL)),
        "spec": {
            "topicName": name,
            "partitions": partitions,
            "replicas": 1,
            "config": {
                **{k: int(v) if k.endswith(".ms") else v for k, v in config.items()},
                "min.insync.replicas": 1,
            },
        },
    }


def topic_resource_name(topic: str) -> str:
    return topic.replace("_", "-").lower()


def topic_documents(
    topics: Sequence[TopicContract], definitions: Sequence[ServiceDefinition]
) -> list[dict[str, Any]]:
    """A KafkaTopic per catalog topic and per faust changelog topic."""
    documents = [
        kafka_topic(t.name, ServiceSettings.model_construct().topic_partitions, t.config)
        for t in topics
    ]
    for definition in definitions:
        partitions = settings_of(definition).topic_partitions  # faust tables use the same
        for table in definition.state_tables:
            name = changelog_topic(definition.name, table)
            documents.append(kafka_topic(name, partitions, {"cleanup.policy": "compact"}))
    return documents


def user_documents(
    topics: Sequence[TopicContract], definitions: Sequence[ServiceDefinition]
) -> list[dict[str, Any]]:
    by_name = {d.name: d for d in definitions}
    return [kafka_user(s, grants(s, topics, by_name[s])) for s in SERVICES]


__all__ = ["NAMESPACE", "Grant", "grants", "grants_of", "topic_documents", "user_documents"]
