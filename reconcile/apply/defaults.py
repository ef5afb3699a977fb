"""Defaults of an apply run that the CLI shows without importing the executor; no logic."""

# Actions in flight by default. Most of an action's time is spent waiting on the API (a boot,
# a snapshot), so this is set high; the requests those actions make go through the client's
# adaptive limit, which backs off when the API slows down or throttles.
DEFAULT_PARALLELISM = 50
