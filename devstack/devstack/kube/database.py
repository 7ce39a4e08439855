"""PostgreSQL as a CloudNativePG `Cluster`: one role and one database per service.

Each role's password comes from the Secret `<service>-db` (type basic-auth: username,
password) that the service's pods read too; no credential is written into a manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devstack.kube.common import POSTGRES_CLUSTER, database_name, metadata
from devstack.postgres import POSTGRES_MAJOR

CNPG_API = "postgresql.cnpg.io/v1"
POSTGRES_IMAGE = f"ghcr.io/cloudnative-pg/postgresql:{POSTGRES_MAJOR}.3-system-bookworm"
"""The major version the tests run on (the embedded server's); `system`: with Barman Cloud."""


def cluster(services: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": CNPG_API,
        "kind": "Cluster",
        "metadata": metadata(POSTGRES_CLUSTER),
        "spec": {
            "instances": 1,
            "imageName": POSTGRES_IMAGE,
            "primaryUpdateStrategy": "unsupervised",
            "storage": {"size": "10Gi"},
            "enableSuperuserAccess": False,
            "managed": {
                "roles": [
                    {
                        "name": service,
                        "ensure": "present",
                        "login": True,
                        "passwordSecret": {"name": f"{service}-db"},
                    }
                    for service in services
                ]
            },
        },
    }


def database(service: str) -> dict[str, Any]:
    return {
        "apiVersion": CNPG_API,
        "kind": "Database",
        "metadata": metadata(f"{POSTGRES_CLUSTER}-{service}"),
        "spec": {
            "cluster": {"name": POSTGRES_CLUSTER},
            "name": database_name(service),
            "owner": service,
            "ensure": "present",
        },
    }


def database_documents(services: Sequence[str]) -> list[dict[str, Any]]:
    return [cluster(services), *(database(s) for s in services)]
