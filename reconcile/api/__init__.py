"""The reconciler's Runloop API client: HTTP only, typed views, retries, long-polls; no planning."""

from reconcile.api.client import RunloopClient
from reconcile.api.failures import translate_failure
from reconcile.api.http import RequestStats
from reconcile.api.models import (
    Blueprint,
    Devbox,
    Execution,
    Snapshot,
    SnapshotStatus,
    StorageObject,
)
from reconcile.api.retry import RetryEvent, RetryPolicy

__all__ = [
    "Blueprint",
    "Devbox",
    "Execution",
    "RequestStats",
    "RetryEvent",
    "RetryPolicy",
    "RunloopClient",
    "Snapshot",
    "SnapshotStatus",
    "StorageObject",
    "translate_failure",
]
