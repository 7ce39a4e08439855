"""The services a bench run starts trust a signing key of the run's own; requests carry tokens
signed with it (every scope). Nothing here changes the process environment: the bench gives
`ENV` to the processes it starts (`bench.stack`) and to an API it builds in process."""

import tempfile
from pathlib import Path

from devstack.auth import auth_env, development_token, local_key_file

KEY_FILE = local_key_file(Path(tempfile.mkdtemp(prefix="dialog-bench-")))
ENV = auth_env(KEY_FILE)
"""The settings that make a service trust the bench's key (`<SERVICE>_AUTH_*`)."""
TOKEN = development_token(KEY_FILE, subject="bench")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
