"""The Python kustomize: builds what kustomize builds, refuses what it cannot build alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devstack.kube.kustomize import KustomizeError, build


def write(folder: Path, name: str, content: object) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content)
    (folder / name).write_text(text)


def config_map(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}}


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write(
        tmp_path / "base",
        "maps.yaml",
        "---\n"
        + yaml.safe_dump(config_map("one", {"tier": "x"}))
        + "---\n"
        + yaml.safe_dump(config_map("two")),
    )
    write(tmp_path / "base", "kustomization.yaml", {"resources": ["maps.yaml"]})
    return tmp_path


def test_patches_apply_to_the_targets_they_select(base: Path) -> None:
    patch = yaml.safe_dump([{"op": "replace", "path": "/data/a", "value": "2"}])
    write(
        base / "over",
        "kustomization.yaml",
        {
            "resources": ["../base"],
            "patches": [
                {"target": {"kind": "ConfigMap", "labelSelector": "tier=x"}, "patch": patch}
            ],
        },
    )
    documents = {d["metadata"]["name"]: d["data"]["a"] for d in build(base / "over")}
    assert documents == {"one": "2", "two": "1"}


def test_a_patch_that_selects_nothing_or_fails_is_an_error(base: Path) -> None:
    patch = yaml.safe_dump([{"op": "replace", "path": "/data/a", "value": "2"}])
    write(
        base / "over",
        "kustomization.yaml",
        {"resources": ["../base"], "patches": [{"target": {"kind": "Secret"}, "patch": patch}]},
    )
    with pytest.raises(KustomizeError, match="selects nothing"):
        build(base / "over")
    bad = yaml.safe_dump([{"op": "replace", "path": "/data/missing", "value": "2"}])
    write(
        base / "over",
        "kustomization.yaml",
        {"resources": ["../base"], "patches": [{"target": {"kind": "ConfigMap"}, "patch": bad}]},
    )
    with pytest.raises(Exception, match="missing"):
        build(base / "over")


def test_fields_it_does_not_implement_are_refused(base: Path) -> None:
    write(base / "over", "kustomization.yaml", {"resources": ["../base"], "namePrefix": "x-"})
    with pytest.raises(KustomizeError, match="unsupported fields"):
        build(base / "over")


def test_duplicate_objects_and_missing_resources_are_refused(base: Path) -> None:
    write(base / "dup", "kustomization.yaml", {"resources": ["../base", "../base/maps.yaml"]})
    with pytest.raises(KustomizeError, match="appears twice"):
        build(base / "dup")
    write(base / "gone", "kustomization.yaml", {"resources": ["nothing.yaml"]})
    with pytest.raises(KustomizeError, match="does not exist"):
        build(base / "gone")
