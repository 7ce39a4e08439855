"""The `dev` and `prod` overlays: what differs from the base, as JSON patches (RFC 6902).

The base is the smallest sound platform: one replica of everything, topics with one replica.
`prod` raises topic replication to 3 with `min.insync.replicas` 2, runs as many worker replicas
as keep every partition busy, spreads pods across zones and nodes, and runs three PostgreSQL
instances. `dev` only turns up logging.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from devstack.kube.common import PART_OF, POSTGRES_CLUSTER, env_prefix, settings_of
from dialogkit.service import ServiceDefinition

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
PROD_TOPIC_REPLICAS = 3
PROD_MIN_INSYNC_REPLICAS = 2
PARTITIONS_PER_WORKER = 2
"""In prod each worker replica owns two partitions of every topic it reads: replicas beyond the
partition count would idle, and two per replica leaves room to lose one pod without idling."""
PROD_API_REPLICAS = (2, 6)
PROD_POSTGRES_INSTANCES = 3


def worker_replicas(definition: ServiceDefinition) -> int:
    partitions = settings_of(definition).topic_partitions
    replicas = max(1, partitions // PARTITIONS_PER_WORKER)
    assert partitions % replicas == 0, "partitions must spread evenly over worker replicas"
    return replicas


def _patch(target: dict[str, str], *operations: dict[str, Any]) -> dict[str, Any]:
    return {"target": target, "patch": yaml.safe_dump(list(operations), sort_keys=False)}


def _spread(key: str, when: str) -> dict[str, Any]:
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}},
        # each Deployment's pods, of the current ReplicaSet, spread among themselves: the API
        # server ANDs these keys, with the incoming pod's values, into the selector (a key may
        # not be in both, so the selector names only what every platform pod carries)
        "matchLabelKeys": ["app.kubernetes.io/name", "pod-template-hash"],
    }


def prod_patches(definitions: Sequence[ServiceDefinition]) -> list[dict[str, Any]]:
    patches = [
        _patch(
            {"kind": "KafkaTopic"},
            {"op": "replace", "path": "/spec/replicas", "value": PROD_TOPIC_REPLICAS},
            {
                "op": "replace",
                "path": "/spec/config/min.insync.replicas",
                "value": PROD_MIN_INSYNC_REPLICAS,
            },
        ),
        _patch(
            {"kind": "Deployment"},
            {
                "op": "add",
                "path": "/spec/template/spec/topologySpreadConstraints",
                "value": [
                    _spread("topology.kubernetes.io/zone", "DoNotSchedule"),
                    _spread("kubernetes.io/hostname", "ScheduleAnyway"),
                ],
            },
        ),
        _patch(
            {"kind": "HorizontalPodAutoscaler"},
            {"op": "replace", "path": "/spec/minReplicas", "value": PROD_API_REPLICAS[0]},
            {"op": "replace", "path": "/spec/maxReplicas", "value": PROD_API_REPLICAS[1]},
        ),
        _patch(
            {"kind": "Cluster", "name": POSTGRES_CLUSTER},
            {"op": "replace", "path": "/spec/instances", "value": PROD_POSTGRES_INSTANCES},
            {"op": "replace", "path": "/spec/storage/size", "value": "50Gi"},
            {
                "op": "add",
                "path": "/spec/affinity",
                "value": {
                    "enablePodAntiAffinity": True,
                    "podAntiAffinityType": "required",
                    "topologyKey": "topology.kubernetes.io/zone",
                },
            },
        ),
    ]
    for definition in definitions:
        patches.append(
            _patch(
                {"kind": "Deployment", "name": f"{definition.name}-worker"},
                {"op": "replace", "path": "/spec/replicas", "value": worker_replicas(definition)},
            )
        )
    return patches


def dev_patches(definitions: Sequence[ServiceDefinition]) -> list[dict[str, Any]]:
    return [
        _patch(
            {"kind": "ConfigMap", "name": f"{d.name}-config"},
            {"op": "replace", "path": f"/data/{env_prefix(d)}LOG_LEVEL", "value": "DEBUG"},
        )
        for d in definitions
    ]


def kustomization(resources: Sequence[str], patches: Sequence[dict[str, Any]] = ()) -> str:
    document: dict[str, Any] = {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "resources": list(resources),
    }
    if patches:
        document["patches"] = list(patches)
    return yaml.safe_dump(document, sort_keys=False, width=100)


def overlay_files(definitions: Sequence[ServiceDefinition]) -> dict[str, str]:
    return {
        "overlays/dev/kustomization.yaml": kustomization(["../../base"], dev_patches(definitions)),
        "overlays/prod/kustomization.yaml": kustomization(
            ["../../base"], prod_patches(definitions)
        ),
    }
