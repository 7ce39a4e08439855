"""The services a bench run starts trust a signing key of the run's own; requests carry tokens
signed with it (every scope)."""

import os
import tempfile
from pathlib import Path

from devstack.auth import auth_env, development_token, local_key_file

KEY_FILE = local_key_file(Path(tempfile.mkdtemp(prefix="dialog-bench-")))
os.environ.update(auth_env(KEY_FILE))
TOKEN = development_token(KEY_FILE, subject="bench")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
