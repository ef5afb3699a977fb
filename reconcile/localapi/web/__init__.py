"""The HTTP layer: the ASGI app, auth, routes, admin endpoints and the server; no state here."""
