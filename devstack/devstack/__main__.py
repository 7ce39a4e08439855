import argparse
import sys

from devstack.stack import StackSettings, run, stop

parser = argparse.ArgumentParser(prog="python -m devstack")
parser.add_argument("command", choices=["run", "stop"])
arguments = parser.parse_args()
settings = StackSettings()
sys.exit(run(settings) if arguments.command == "run" else stop(settings))
