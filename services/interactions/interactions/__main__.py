from dialogkit.service import main
from interactions.bootstrap import DEFINITION

main(DEFINITION)
