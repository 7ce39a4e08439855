from dialogkit.service import main

from consent.bootstrap import DEFINITION

main(DEFINITION)
