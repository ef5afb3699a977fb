"""The planner's table of named cases: manifest text, the live state around it, `now`, targets.

Each case is read by the golden test (its plan as text and JSON under tests/golden/plan/) and by
the invariant test. `before` is the manifest the live resources were made from (default: the
case's own manifest); planning the case's manifest against them shows the drift. The manifests
and live states themselves are in planner_worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner_support import OTHER_SECRET, SECRET, LiveBuilder
from planner_worlds import (
    BASE,
    BASE_WORKERS,
    CHAIN,
    EMPTY,
    FILES,
    FILES_V2,
    FINAL,
    FINAL_WORKERS,
    MOVED_AFTER,
    MOVED_BEFORE,
    MOVED_OBJECT_AFTER,
    MOVED_OBJECT_BEFORE,
    OTHER_SERIES,
    PROTECTED,
    SCRATCH,
    api,
    converged,
    converged_workers,
    due,
    duplicates,
    failed_builders,
    final,
    first_in_progress,
    moved_object,
    no_snapshots,
    nothing,
    only_an_error,
    other_series_due,
    protected_builder,
    pruning,
    renamed_by_hand,
    setup_unfinished,
    strangers,
    suspended,
    two_complete,
    two_series,
    unmanaged,
    unread_kept,
    unread_matters,
    unread_old,
    uploading,
    with_scratch,
)


@dataclass(frozen=True)
class Case:
    name: str
    manifest: str
    live: LiveBuilder
    before: str | None = None
    files: dict[str, str] = field(default_factory=lambda: dict(FILES))
    before_files: dict[str, str] | None = None
    env: dict[str, str] = field(default_factory=lambda: {"CI_TOKEN": SECRET})
    before_env: dict[str, str] | None = None
    targets: tuple[str, ...] = ()
    allow_shrink: bool = False  # plan as `--allow-shrink` does


CASES: list[Case] = [
    Case("empty-manifest-empty-stack", EMPTY, nothing),
    Case("create-everything", BASE_WORKERS, nothing),
    Case("converged", BASE_WORKERS, converged_workers),
    Case(
        "update-metadata",
        BASE.replace("metadata: {team: infra}", "metadata: {team: core, owner: ana}"),
        converged,
        before=BASE,
    ),
    Case(
        "update-name",
        BASE,
        renamed_by_hand,
    ),
    Case("moved-is-an-update", MOVED_AFTER, api, MOVED_BEFORE),
    Case(
        "replace-forced-by-blueprint",
        BASE.replace("blueprint: py311", "blueprint: py312"),
        converged,
        before=BASE,
    ),
    Case("replace-forced-by-env", BASE, converged, before_env={"CI_TOKEN": OTHER_SECRET}),
    Case(
        "replace-forced-by-mounted-object-content",
        BASE_WORKERS,
        converged_workers,
        files=FILES_V2,
        before_files=FILES,
    ),
    Case(
        "replace-forced-by-setup",
        BASE.replace("pip install -r requirements.txt", "make deps"),
        converged,
        before=BASE,
    ),
    Case(
        "replace-forced-by-resource-size",
        BASE.replace("resource_size: SMALL", "resource_size: MEDIUM"),
        converged,
        before=BASE,
    ),
    Case(
        "ignore-changes-suppresses-replace",
        BASE.replace(
            "resource_size: SMALL",
            "resource_size: MEDIUM\n    lifecycle: {ignore_changes: [resource_size, env]}",
        ),
        converged,
        before=BASE,
        before_env={"CI_TOKEN": OTHER_SECRET},
    ),
    Case(
        "ignore-changes-survives-a-metadata-update",
        BASE.replace(
            "resource_size: SMALL",
            "resource_size: SMALL\n    lifecycle: {ignore_changes: [env]}",
        ).replace("metadata: {team: infra}", "metadata: {team: core}"),
        converged,
        before=BASE,
        before_env={"CI_TOKEN": OTHER_SECRET},
    ),
    Case(
        "replace-when-setup-did-not-finish",
        BASE,
        setup_unfinished,
    ),
    Case("delete-what-the-manifest-no-longer-names", BASE, with_scratch, before=SCRATCH),
    Case("duplicates", BASE, duplicates),
    Case(
        "suspend",
        BASE.replace("resource_size: SMALL", "resource_size: SMALL\n    state: suspended"),
        converged,
        before=BASE,
    ),
    Case(
        "resume",
        BASE,
        suspended,
    ),
    Case("recreate-after-failure-and-shutdown", BASE_WORKERS, failed_builders),
    Case(
        "object-upload-did-not-finish",
        BASE,
        uploading,
    ),
    Case("snapshot-due-then-prune", BASE, due),
    Case("prunes-wait-for-every-snapshot-of-the-run", OTHER_SERIES, other_series_due),
    Case(
        "first-snapshot-after-an-error",
        BASE,
        only_an_error,
    ),
    Case(
        "first-snapshot-still-in-progress",
        BASE,
        first_in_progress,
    ),
    Case(
        "restore-from-a-complete-snapshot",
        BASE_WORKERS,
        two_complete,
    ),
    Case(
        "restore-after-the-first-snapshot",
        BASE_WORKERS,
        no_snapshots,
    ),
    # keep: {last: 3} prunes 6 of the 10 complete dailies at once, more than max_prune (50%)
    Case("prune-by-keep", BASE_WORKERS, pruning, allow_shrink=True),
    Case("shrink-guard-holds-back-a-large-prune", BASE_WORKERS, pruning),
    Case("prune-refused-while-a-status-that-matters-is-unread", BASE, unread_matters),
    Case(
        "prune-waits-until-every-status-of-the-series-is-read",
        BASE.replace("keep: {last: 3}", "keep: {last: 2, monthly: 2}"),
        unread_old,
    ),
    Case(
        "unread-statuses-that-cannot-matter",
        BASE.replace("keep: {last: 3}", "keep: {last: 5}"),
        unread_kept,
    ),
    Case(
        "prune-unmanaged-snapshots-when-asked",
        BASE.replace("keep: {last: 3}", "keep: {last: 2}\n    prune_unmanaged: true"),
        unmanaged,
    ),
    Case(
        "prevent-destroy-refuses-replace",
        BASE.replace(
            "blueprint: py311", "blueprint: py312\n    lifecycle: {prevent_destroy: true}"
        ),
        protected_builder,
        before=PROTECTED,
    ),
    Case(
        "prevent-destroy-turned-off-allows-replace",
        BASE.replace("blueprint: py311", "blueprint: py312"),
        converged,
        before=PROTECTED,
    ),
    Case(
        "series-removed-deletes-its-snapshots",
        BASE.replace(BASE[BASE.index("snapshots:") :], ""),
        two_series,
    ),
    Case("target-a-replica-group", BASE_WORKERS, nothing, targets=("worker",)),
    Case("target-one-object", BASE_WORKERS, nothing, targets=("object.toolchain",)),
    Case("snapshot-before-destroy", FINAL.replace("py311", "py312"), final, before=FINAL),
    Case("strangers-are-never-touched", BASE, strangers),
    Case("restore-chain-orders-series", CHAIN, nothing),
    Case(
        "scale-replicas-down",
        BASE_WORKERS.replace("replicas: 2", "replicas: 1"),
        converged_workers,
        before=BASE_WORKERS,
    ),
    Case(
        "restore-from-a-snapshot-id",
        EMPTY + "devboxes:\n  clone:\n    from_snapshot: snp_external\n",
        nothing,
    ),
    Case(
        "due-snapshot-waits-for-the-suspend",
        BASE.replace("resource_size: SMALL", "resource_size: SMALL\n    state: suspended"),
        due,
        before=BASE,
    ),
    Case(
        "object-mounted-by-id-is-not-deleted",
        BASE.replace("objects:\n  toolchain: {path: ./tool.txt}\n", "").replace(
            "object: toolchain", "object: obj_toolchain"
        ),
        converged,
        before=BASE,
    ),
    Case("target-a-replica-group-by-address", BASE_WORKERS, nothing, targets=("devbox.worker",)),
    Case(
        "moved-object-keeps-the-live-object", MOVED_OBJECT_AFTER, moved_object, MOVED_OBJECT_BEFORE
    ),
    Case(
        "object-metadata-change-replaces-the-object-only",
        BASE.replace(
            "toolchain: {path: ./tool.txt}", "toolchain: {path: ./tool.txt, metadata: {v: '2'}}"
        ),
        converged,
        before=BASE,
    ),
    Case(
        "snapshot-before-destroy-on-scale-down",
        FINAL_WORKERS.replace("replicas: 2", "replicas: 1"),
        converged_workers,  # snapshot_before_destroy changes what is planned, not what is live
        before=FINAL_WORKERS,
    ),
]
