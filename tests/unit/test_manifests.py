from pathlib import Path

import yaml

from devstack.manifests import render
from devstack.stack import definitions
from dialogkit.topics import platform_topics

K8S = Path(__file__).parents[2] / "deploy" / "k8s"


def test_checked_in_manifests_are_what_the_code_renders() -> None:
    rendered = render()
    on_disk = {p.name: p.read_text() for p in K8S.glob("*.yaml")}
    stale = sorted(n for n in rendered.keys() | on_disk.keys() if rendered.get(n) != on_disk.get(n))
    assert stale == [], f"deploy/k8s differs from the code in {stale}; run `make manifests`"


def test_every_process_has_startup_liveness_and_readiness_probes_on_its_port() -> None:
    for definition in definitions():
        settings = definition.settings()
        documents = list(yaml.safe_load_all(render()[f"{definition.name}.yaml"]))
        deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
        for role, port in (("api", settings.http_port), ("worker", settings.worker_web_port)):
            [container] = deployments[f"{definition.name}-{role}"]["spec"]["template"]["spec"][
                "containers"
            ]
            assert container["ports"] == [{"name": "http", "containerPort": port}]
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert container["args"] == ["python", "-m", definition.name, role]


def test_every_platform_topic_has_a_topic_resource() -> None:
    topics = {d["spec"]["topicName"]: d for d in yaml.safe_load_all(render()["topics.yaml"])}
    assert set(topics) == {t.name for t in platform_topics()}
    assert all(t["spec"]["replicas"] == 3 for t in topics.values())
