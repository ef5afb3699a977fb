"""`python -m reconcile` runs the rlstate command line."""

from reconcile.entry import main

main()
