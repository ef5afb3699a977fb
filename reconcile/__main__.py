"""`python -m reconcile` runs the rlstate command line."""

from reconcile.cli import main

main()
