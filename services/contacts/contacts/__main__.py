from contacts.bootstrap import DEFINITION
from dialogkit.service import main

main(DEFINITION)
