"""HTTP routes of the local server's /v1/ API, one module per resource, each exporting ROUTES."""
