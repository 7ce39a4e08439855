"""Tokens for local development: the local signing key under the state directory.

`make run` makes the key on first start and points every service at it
(`<SERVICE>_AUTH_LOCAL_KEY_FILE`); `make token SCOPES="consent:read consent:write"` prints a
token signed with it. Services refuse the key outside `environment=local`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dialogkit.tokens import PLATFORM_SCOPES, local_signing_key, mint
from dialogkit.topics import SERVICES

KEY_FILE = Path("auth") / "local-signing-key.pem"


def local_key_file(state_dir: Path) -> Path:
    """The local signing key of a state directory, made on first use."""
    path = (state_dir / KEY_FILE).resolve()
    local_signing_key(path)
    return path


def auth_env(key_file: Path) -> dict[str, str]:
    """The settings that make every service trust (and sign its own calls with) the key."""
    return {f"{service.upper()}_AUTH_LOCAL_KEY_FILE": str(key_file) for service in SERVICES}


def development_token(
    key_file: Path,
    scopes: Sequence[str] = PLATFORM_SCOPES,
    *,
    subject: str = "local-developer",
    lifetime_s: int = 12 * 3600,
) -> str:
    """A token with `scopes` (all the platform's by default), signed with the local key."""
    return mint(local_signing_key(key_file), subject=subject, scopes=scopes, lifetime_s=lifetime_s)
