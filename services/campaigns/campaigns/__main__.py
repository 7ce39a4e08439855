from dialogkit.service import main

from campaigns.bootstrap import DEFINITION

main(DEFINITION)
