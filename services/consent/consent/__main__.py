import sys

from consent.bootstrap import DEFINITION
from consent.signing import verify_proof
from dialogkit.service import main

if sys.argv[1:2] == ["verify-proof"]:  # offline: no settings, no broker, no database
    sys.exit(verify_proof(sys.argv[2:]))
main(DEFINITION)
