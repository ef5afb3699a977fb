"""A local, Runloop-compatible API server (devboxes, snapshots, objects, blueprints) for rlstate.

It is a program of its own: it shares only the HTTP contract with the reconciler and imports nothing
from the rest of `reconcile`. Entry points: `LocalConfig`, `create_app`, `start_in_thread`
(→ `RunningServer`) and `serve`.
"""

from reconcile.localapi.config import FaultSettings, LocalConfig
from reconcile.localapi.web.app import create_app
from reconcile.localapi.web.server import RunningServer, serve, start_in_thread

__all__ = [
    "FaultSettings",
    "LocalConfig",
    "RunningServer",
    "create_app",
    "serve",
    "start_in_thread",
]
