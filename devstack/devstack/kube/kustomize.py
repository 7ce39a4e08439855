"""`kustomize build` for the subset of kustomize the platform's manifests use.

No kustomize binary installs from the project's package sources, so this renders a
kustomization the way `kustomize build` does for: `resources` (files and directories with their
own kustomization) and `patches` holding JSON 6902 operations (inline `patch` or `path`) with a
`target` chosen by kind, name, namespace and label selector. Anything else in a kustomization
is refused rather than silently ignored, so the rendering cannot differ from kustomize's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonpatch
import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser where libyaml is there
SUPPORTED = {"apiVersion", "kind", "resources", "patches"}
TARGET_KEYS = {"kind", "name", "namespace", "labelSelector", "group", "version"}


class KustomizeError(ValueError):
    """A kustomization this renderer cannot build as kustomize would."""


def build(folder: Path) -> list[dict[str, Any]]:
    """Every object the kustomization in `folder` renders, in resource order."""
    file = folder / "kustomization.yaml"
    if not file.is_file():
        raise KustomizeError(f"{folder}: no kustomization.yaml")
    spec = yaml.safe_load(file.read_text()) or {}
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{file}: unsupported fields {sorted(unknown)}")
    documents: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        path = (folder / resource).resolve()
        if path.is_dir():
            documents += build(path)
        elif path.is_file():
            documents += [d for d in yaml.load_all(path.read_text(), Loader=LOADER) if d]
        else:
            raise KustomizeError(f"{file}: resource {resource} does not exist")
    _refuse_duplicates(documents, file)
    for entry in spec.get("patches", []):
        documents = _apply(folder, entry, documents)
    return documents


def _key(document: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = document.get("metadata", {})
    return (
        document.get("apiVersion", ""),
        document.get("kind", ""),
        meta.get("namespace", ""),
        meta.get("name", ""),
    )


def _refuse_duplicates(documents: list[dict[str, Any]], file: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for document in documents:
        key = _key(document)
        if key in seen:
            raise KustomizeError(f"{file}: {key} appears twice")
        seen.add(key)


def _operations(folder: Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
    if "patch" in entry:
        text = entry["patch"]
    elif "path" in entry:
        text = (folder / entry["path"]).read_text()
    else:
        raise KustomizeError(f"{folder}: a patch needs `patch` or `path`")
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise KustomizeError(
            f"{folder}: only JSON 6902 patches (a list of operations) are supported"
        )
    return operations


def matches(target: dict[str, str], document: dict[str, Any]) -> bool:
    """Whether a patch target selects a document, as kustomize's selector does."""
    unknown = set(target) - TARGET_KEYS
    if unknown:
        raise KustomizeError(f"unsupported target fields {sorted(unknown)}")
    group, _, version = document.get("apiVersion", "").rpartition("/")
    meta = document.get("metadata", {})
    labels = meta.get("labels", {})
    wanted = {
        "kind": document.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "group": group,
        "version": version,
    }
    for field, value in target.items():
        if field == "labelSelector":
            for term in value.split(","):
                key, _, expected = term.partition("=")
                if labels.get(key.strip()) != expected.strip():
                    return False
        elif wanted[field] != value:
            return False
    return True


def _apply(
    folder: Path, entry: dict[str, Any], documents: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    target = entry.get("target")
    if not target:
        raise KustomizeError(f"{folder}: a JSON 6902 patch needs a target")
    operations = _operations(folder, entry)
    selected = [d for d in documents if matches(target, d)]
    if not selected:
        raise KustomizeError(f"{folder}: patch target {target} selects nothing")
    patch = jsonpatch.JsonPatch(operations)
    return [patch.apply(d) if matches(target, d) else d for d in documents]
