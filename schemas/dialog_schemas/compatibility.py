"""The compatibility gate: what a schema change would break for existing consumers or producers.

Within one schema version only additive changes are allowed: a new optional field, or new
documentation. Everything else (a field removed or renamed, a type, format, constraint or enum
changed, an optional field made required, a new required field, an event type removed) needs a
new schema version of that event type and an upcaster from every released version, because
stored events of the old version must stay readable.

One kind of constraint may be added within a version: a storage limit (`STORAGE_LIMITS` and
friends in `dialog_schemas.common`: text without NUL, integers within the I-JSON range, instants
and dates within the platform's calendar). It refuses only values no projection could ever apply
(PostgreSQL refuses NUL in text, Python's calendar ends in year 9999, JSON readers lose precision
beyond 2^53) or that no fact of this platform can carry (a touchpoint in year 1); such a value
in a stored event never reached a read model, so no consumer relies on it and no producer that
worked sends it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from dialog_schemas.common import (
    DATE_LIMITS,
    HARDENED_PATTERNS,
    INSTANT_LIMITS,
    STORAGE_LIMITS,
)

ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "$id"})
FILE = re.compile(r"^(?P<type>[A-Za-z0-9]+)\.v(?P<version>[0-9]+)\.schema\.json$")


@dataclass(frozen=True, order=True)
class Break:
    """One incompatible change: which event, which field, what happened."""

    event_type: str
    version: int
    field: str
    problem: str

    def __str__(self) -> str:
        where = f" field `{self.field}`" if self.field else ""
        return f"{self.event_type} v{self.version}{where}: {self.problem}"


Schemas = Mapping[str, Mapping[str, Any]]
"""JSON Schemas by file name, `<EventType>.v<version>.schema.json`."""


def breaking_changes(
    released: Schemas, current: Schemas, upcasters: Collection[tuple[str, int]]
) -> list[Break]:
    """Every change from the released schemas to the current ones that breaks someone."""
    old = _by_type(released)
    new = _by_type(current)
    breaks: list[Break] = []
    for event_type, versions in sorted(old.items()):
        latest = max(versions)
        if event_type not in new:
            breaks.append(
                Break(
                    event_type,
                    latest,
                    "",
                    "event type removed; consumers still expect it and stored events have it",
                )
            )
            continue
        [(version, schema)] = new[event_type].items()
        if version < latest:
            breaks.append(
                Break(event_type, version, "", f"version went back from v{latest} to v{version}")
            )
        elif version == latest:
            breaks += _compare(event_type, version, versions[latest], schema)
        for stored in versions:
            missing = [v for v in range(stored, version) if (event_type, v) not in upcasters]
            if missing:
                breaks.append(
                    Break(
                        event_type,
                        stored,
                        "",
                        f"stored v{stored} events cannot be read as v{version}: no upcaster"
                        f" from v{missing[0]} to v{missing[0] + 1}",
                    )
                )
    return sorted(set(breaks))


def _by_type(schemas: Schemas) -> dict[str, dict[int, Mapping[str, Any]]]:
    grouped: dict[str, dict[int, Mapping[str, Any]]] = {}
    for name, schema in schemas.items():
        match = FILE.match(name)
        if match is None:
            raise ValueError(f"{name} is not named <EventType>.v<version>.schema.json")
        grouped.setdefault(match["type"], {})[int(match["version"])] = schema
    return grouped


def _compare(
    event_type: str, version: int, old_root: Mapping[str, Any], new_root: Mapping[str, Any]
) -> list[Break]:
    breaks: list[Break] = []

    def report(path: str, problem: str) -> None:
        breaks.append(Break(event_type, version, path, problem))

    def compare(old: Any, new: Any, path: str) -> None:
        old, new = _resolve(old, old_root), _resolve(new, new_root)
        if _is_object(old) and _is_object(new):
            compare_objects(old, new, path)
        elif _alternatives(old) is not None and _alternatives(new) is not None:
            compare_alternatives(old, new, path)
        elif old.get("type") == "array" and new.get("type") == "array":
            compare(old.get("items", {}), new.get("items", {}), f"{path}[]")
            rest_old = {k: v for k, v in old.items() if k != "items"}
            rest_new = {k: v for k, v in new.items() if k != "items"}
            compare_leaf(rest_old, rest_new, path)
        else:
            compare_leaf(old, new, path)

    def compare_objects(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name, schema in old_props.items():
            where = _join(path, name)
            if name not in new_props:
                report(
                    where,
                    "removed or renamed; consumers reading it and producers sending it break",
                )
                continue
            if name in new_required and name not in old_required:
                report(where, "became required; producers of the released version may omit it")
            compare(schema, new_props[name], where)
        for name in new_props.keys() - old_props.keys():
            if name in new_required:
                report(
                    _join(path, name),
                    "new required field without a default; producers of the released version"
                    " do not send it",
                )
        if (
            old.get("additionalProperties", True) is False
            and new.get("additionalProperties", True) is not False
            and not new_props
        ):
            report(path, "became a free-form object")

    def compare_alternatives(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_alts = _keyed(_alternatives(old) or [], old_root)
        new_alts = _keyed(_alternatives(new) or [], new_root)
        for key, schema in old_alts.items():
            if key not in new_alts:
                report(path, f"alternative {key} removed; producers sending it are rejected")
            else:
                compare(schema, new_alts[key], path)
        for key in new_alts.keys() - old_alts.keys():
            report(path, f"alternative {key} added; existing consumers reject it")

    def compare_leaf(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_core = _normalized(old, old_root)
        new_core = _normalized(new, new_root)
        if old_core == new_core:
            return
        if "enum" in old_core and "enum" in new_core:
            removed = [v for v in old_core["enum"] if v not in new_core["enum"]]
            added = [v for v in new_core["enum"] if v not in old_core["enum"]]
            if removed:
                report(path, f"enum values {removed} removed; producers sending them break")
            if added:
                report(path, f"enum values {added} added; existing consumers reject them")
            return
        report(path, f"type changed from {_show(old_core)} to {_show(new_core)}")

    compare(old_root, new_root, "")
    return breaks


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    while isinstance(schema, Mapping) and "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest}
    return schema


def _is_object(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" in schema


def _alternatives(schema: Mapping[str, Any]) -> list[Any] | None:
    found = schema.get("anyOf", schema.get("oneOf"))
    return list(found) if found is not None else None


def _keyed(alternatives: list[Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Alternatives by their discriminator value, or by their normalized shape."""
    keyed: dict[str, Any] = {}
    for alternative in alternatives:
        resolved = _resolve(alternative, root)
        constants = [
            f"{name}={prop['const']!r}"
            for name, prop in resolved.get("properties", {}).items()
            if isinstance(prop, Mapping) and "const" in prop
        ]
        if constants:
            keyed[", ".join(constants)] = alternative
        elif _is_object(resolved):
            keyed[f"object {resolved.get('title', '')}".strip()] = alternative
        else:
            keyed[_show(_normalized(resolved, root))] = alternative
    return keyed


def _normalized(schema: Any, root: Mapping[str, Any]) -> Any:
    schema = _resolve(schema, root)
    if isinstance(schema, Mapping):
        return {
            k: _normalized(_without_storage_limit(k, v), root)
            for k, v in sorted(schema.items())
            if k not in ANNOTATIONS and not k.startswith("x-") and not _storage_limit(k, v)
        }
    if isinstance(schema, list):
        return [_normalized(v, root) for v in schema]
    return schema


def _storage_limit(key: str, value: Any) -> bool:
    """A constraint that only refuses values no projection can apply (see the module doc)."""
    limits = (STORAGE_LIMITS, INSTANT_LIMITS, DATE_LIMITS)
    return any(key in limit and limit[key] == value for limit in limits)


def _without_storage_limit(key: str, value: Any) -> Any:
    """A released pattern that a storage limit was added to, as it was released."""
    if key == "pattern" and isinstance(value, str):
        return HARDENED_PATTERNS.get(value, value)
    return value


def _show(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
