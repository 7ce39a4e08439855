"""`python -m dialog_schemas write|check|release`: keep the contract files true to the code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dialog_schemas.catalog import UPCASTERS
from dialog_schemas.compatibility import breaking_changes
from dialog_schemas.contracts import EVENTS, RELEASED, generated


def drift(root: Path) -> list[str]:
    """Generated files that are missing, differ from what the code generates, or are stale."""
    expected = generated()
    problems = [
        f"{path}: {'differs' if (root / path).exists() else 'missing'}"
        for path, text in expected.items()
        if not (root / path).exists() or (root / path).read_text() != text
    ]
    for stale in sorted((root / EVENTS).glob("*.json")):
        if str(stale.relative_to(root)) not in expected:
            problems.append(f"{stale.relative_to(root)}: no longer generated")
    return problems


def write(root: Path) -> None:
    expected = generated()
    for stale in (root / EVENTS).glob("*.json"):
        if str(stale.relative_to(root)) not in expected:
            stale.unlink()
    for path, text in expected.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def load_schemas(folder: Path) -> dict[str, dict[str, object]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.schema.json"))}


def release(root: Path) -> list[str]:
    """Add the current schemas to the released set; a released version is never rewritten."""
    breaks = breaking_changes(load_schemas(root / RELEASED), load_schemas(root / EVENTS), UPCASTERS)
    if breaks:
        raise SystemExit("cannot release, breaking changes:\n" + "\n".join(map(str, breaks)))
    added = []
    for schema in sorted((root / EVENTS).glob("*.schema.json")):
        target = root / RELEASED / schema.name
        if not target.exists() or target.read_text() != schema.read_text():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(schema.read_text())
            added.append(schema.name)
    return added


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dialog_schemas")
    parser.add_argument("command", choices=["write", "check", "release"])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args()
    if args.command == "write":
        write(args.root)
        print(f"contract files written under {args.root}")
    elif args.command == "check":
        problems = drift(args.root)
        if problems:
            sys.exit("contract files out of date (run `make contracts`):\n" + "\n".join(problems))
        print("contract files are up to date")
    else:
        added = release(args.root)
        print(f"released: {', '.join(added) or 'nothing new'}")


if __name__ == "__main__":
    main()
