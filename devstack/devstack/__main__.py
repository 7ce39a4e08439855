import argparse
import sys

from devstack.auth import development_token, local_key_file
from devstack.stack import StackSettings, run, stop

parser = argparse.ArgumentParser(prog="python -m devstack")
parser.add_argument("command", choices=["run", "stop", "token"])
parser.add_argument("scopes", nargs="*", help="token: the scopes it carries (default: all)")
arguments = parser.parse_args()
settings = StackSettings()
if arguments.command == "token":
    key = local_key_file(settings.state_dir)
    scopes = [s for given in arguments.scopes for s in given.split()]
    print(development_token(key, scopes) if scopes else development_token(key))
    sys.exit(0)
sys.exit(run(settings) if arguments.command == "run" else stop(settings))
