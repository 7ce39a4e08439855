"""The container image's health check: exit 0 when this container's API or worker answers.

A container runs one process, an API or a worker, of one service; its port is in that
service's settings (`<SERVICE>_HTTP_PORT` or `<SERVICE>_WORKER_WEB_PORT`, else the defaults).
The check asks `/healthz` on each such port of the loopback interface and succeeds if any
answers 200.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_PORTS = (8001, 8002, 8003, 8004, 6601, 6602, 6603, 6604)


def ports(environ: dict[str, str]) -> list[int]:
    """The ports named by `*_HTTP_PORT` / `*_WORKER_WEB_PORT`, else every default port."""
    named = [
        int(value)
        for name, value in environ.items()
        if name.endswith(("_HTTP_PORT", "_WORKER_WEB_PORT")) and value.isdigit()
    ]
    return named or list(DEFAULT_PORTS)


def healthy(port: int, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout_s) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def main() -> int:
    return 0 if any(healthy(p) for p in ports(dict(os.environ))) else 1


if __name__ == "__main__":
    sys.exit(main())
