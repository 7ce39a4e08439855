from dialogkit.service import main

from contacts.bootstrap import DEFINITION

main(DEFINITION)
