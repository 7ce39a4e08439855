from consent.bootstrap import DEFINITION
from dialogkit.service import main

main(DEFINITION)
