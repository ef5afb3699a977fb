"""The planner's table of named cases: manifest text, the live state around it, `now`, targets.

Each case is read by the golden test (its plan as text and JSON under tests/golden/plan/) and by
the invariant test. `before` is the manifest the live resources were made from (default: the
case's own manifest); planning the case's manifest against them shows the drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from test_planner_support import OTHER_SECRET, SECRET, LiveBuilder, World, ago

FILES = {"tool.txt": "toolchain v1\n", "notes.md": "# notes\n"}
FILES_V2 = {"tool.txt": "toolchain v2\n", "notes.md": "# notes\n"}

BASE = """\
version: 1
stack: demo
objects:
  toolchain: {path: ./tool.txt}
devboxes:
  builder:
    blueprint: py311
    resource_size: SMALL
    env: {LOG_LEVEL: debug, TOKEN: "${env:CI_TOKEN}"}
    metadata: {team: infra}
    mounts: [{object: toolchain, path: /home/user/toolchain}]
    setup: ["pip install -r requirements.txt"]
snapshots:
  golden:
    devbox: builder
    every: 24h
    keep: {last: 3}
"""

WORKERS = """\
  worker:
    from_snapshot: golden
    replicas: 2
"""

BASE_WORKERS = BASE.replace("snapshots:\n", WORKERS + "snapshots:\n")
EMPTY = "version: 1\nstack: demo\n"


def nothing(world: World) -> None:
    """No live resources at all."""


def converged(world: World) -> None:
    """Live state that matches BASE: the object, the builder and a fresh complete snapshot."""
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def converged_workers(world: World) -> None:
    converged(world)
    world.devbox("worker-0", snapshot_id="snp_golden_1")
    world.devbox("worker-1", snapshot_id="snp_golden_1")


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


def _failed_builders(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", id="dbx_builder_old", status="failure", created=ago(days=3))
    world.snapshot("golden", "snp_golden_1", ago(hours=2))
    world.devbox("worker-0", status="failure", snapshot_id="snp_golden_1")
    world.devbox("worker-1", status="shutdown", snapshot_id="snp_golden_1")


def _duplicates(world: World) -> None:
    world.object("toolchain", id="obj_toolchain_a", created=ago(days=3))
    world.object("toolchain", id="obj_toolchain_b", created=ago(days=2))
    world.devbox("builder", id="dbx_builder_a", created=ago(days=3))
    world.devbox("builder", id="dbx_builder_b", created=ago(days=2))
    world.devbox("builder", id="dbx_builder_c", created=ago(days=1), ready=False)
    world.snapshot("golden", "snp_golden_1", ago(hours=2), devbox="dbx_builder_b")


def _due(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    for day in range(5, 1, -1):
        world.snapshot("golden", f"snp_golden_d{day}", ago(days=day, hours=-1))
    world.snapshot("golden", "snp_golden_err", ago(hours=40), "error")


def _pruning(world: World) -> None:
    """Ten days of dailies; worker-0 runs from an old one; errors and one in progress."""
    world.object("toolchain")
    world.devbox("builder")
    for day in range(10, 0, -1):
        world.snapshot("golden", f"snp_golden_d{day:02d}", ago(days=day, hours=-2))
    world.snapshot("golden", "snp_golden_err_old", ago(days=4, hours=3), "error")
    world.snapshot("golden", "snp_golden_err_new", ago(hours=3), "error")
    world.snapshot("golden", "snp_golden_busy", ago(minutes=5), "in_progress")
    world.devbox("worker-0", snapshot_id="snp_golden_d08")
    world.devbox("worker-1", snapshot_id="snp_golden_d01")


def _unread_matters(world: World) -> None:
    """keep last 3 over six snapshots; the second newest was never read (it might be an error,
    in which case the fourth would be kept): nothing may be pruned."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(6, 0, -1):
        status = "unread" if n == 2 else "complete"
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n * 3), status)


def _unread_old(world: World) -> None:
    """keep last 2 and monthly 2: four snapshots today, one from September never read. The
    rules would prune two of today's; a series that prunes has every status read first (the
    September one could be an error, or hold a monthly slot), so nothing goes yet."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(4, 0, -1):
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n * 2))
    world.snapshot("golden", "snp_golden_september", ago(days=70), "unread")


def _unread_kept(world: World) -> None:
    """keep last 5 over four snapshots, the older two unread: whatever their status, nothing
    would be pruned, so their statuses are not needed and nothing is refused."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(4, 0, -1):
        status = "unread" if n > 2 else "complete"
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n * 2), status)


def _unmanaged(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))
    for n in range(1, 4):
        world.stranger_snapshot(f"snp_by_hand_{n}", ago(days=n), {"note": "taken by hand"})
    world.stranger_snapshot("snp_other_stack", ago(days=5), {"rlstate.stack": "other"})


def _strangers(world: World) -> None:
    world.stranger_devbox("dbx_no_metadata", {}, name="builder")
    world.stranger_devbox(
        "dbx_other_stack",
        {"rlstate.stack": "other", "rlstate.kind": "devbox", "rlstate.name": "builder"},
        name="builder",
    )
    world.stranger_object("obj_no_metadata", {})
    world.stranger_object(
        "obj_other_stack",
        {"rlstate.stack": "other", "rlstate.kind": "object", "rlstate.name": "toolchain"},
    )
    world.stranger_snapshot(
        "snp_other_stack",
        ago(days=1),
        {"rlstate.stack": "other", "rlstate.series": "golden", "rlstate.name": "golden"},
        devbox="dbx_other_stack",
    )
    world.stranger_snapshot("snp_no_metadata", ago(days=1), {}, devbox="dbx_no_metadata")


def _with_scratch(world: World) -> None:
    converged(world)
    world.object("notes")
    world.devbox("scratch")
    world.devbox("vault")


SCRATCH = BASE.replace("objects:\n", "objects:\n  notes: {path: ./notes.md}\n").replace(
    "snapshots:\n",
    "  scratch:\n    blueprint: py311\n"
    "  vault:\n    blueprint: py311\n    lifecycle: {prevent_destroy: true}\n"
    "snapshots:\n",
)

CHAIN = """\
version: 1
stack: demo
devboxes:
  top:
    from_snapshot: middle-snaps
  middle:
    from_snapshot: base-snaps
  base:
    blueprint: py311
snapshots:
  middle-snaps:
    devbox: middle
    keep: {last: 2}
  base-snaps:
    devbox: base
    keep: {last: 2}
"""

MOVED_BEFORE = """\
version: 1
stack: demo
devboxes:
  api:
    blueprint: py311
    metadata: {team: web}
"""
MOVED_AFTER = """\
version: 1
stack: demo
devboxes:
  web:
    blueprint: py311
    metadata: {team: web}
moved:
  - {from: devbox.api, to: devbox.web}
"""

MOVED_OBJECT_BEFORE = BASE.replace("toolchain: {path", "tools: {path").replace(
    "object: toolchain", "object: tools"
)
MOVED_OBJECT_AFTER = BASE + "moved:\n  - {from: object.tools, to: object.toolchain}\n"
FINAL_WORKERS = BASE_WORKERS.replace(
    "replicas: 2\n", "replicas: 2\n    lifecycle: {snapshot_before_destroy: true}\n"
)
PROTECTED = BASE.replace(
    "blueprint: py311", "blueprint: py311\n    lifecycle: {prevent_destroy: true}"
)
FINAL = BASE.replace(
    'setup: ["pip install -r requirements.txt"]\n',
    'setup: ["pip install -r requirements.txt"]\n'
    "    lifecycle: {snapshot_before_destroy: true}\n"
    "  cache:\n    blueprint: py311\n    lifecycle: {snapshot_before_destroy: true}\n",
)


def _final(world: World) -> None:
    converged(world)
    world.devbox("cache")


def _renamed_by_hand(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", live_name="renamed-by-hand")


def _api(world: World) -> None:
    world.devbox("api")


def _setup_unfinished(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", ready=False)
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def _suspended(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", status="suspended")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def _uploading(world: World) -> None:
    world.object("toolchain", state="UPLOADING")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def _only_an_error(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_err", ago(hours=1), "error")


def _first_in_progress(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_busy", ago(minutes=1), "in_progress")


def _two_complete(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_old", ago(hours=20))
    world.snapshot("golden", "snp_golden_new", ago(hours=2))


def _no_snapshots(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")


def _protected_builder(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")


def _two_series(world: World) -> None:
    converged(world)
    world.snapshot("golden", "snp_golden_0", ago(days=3))
    world.snapshot("gone", "snp_gone_1", ago(days=3), protect=True)


def _moved_object(world: World) -> None:
    world.object("tools")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def _converged_final_workers(world: World) -> None:
    converged(world)
    world.devbox("worker-0", snapshot_id="snp_golden_1")
    world.devbox("worker-1", snapshot_id="snp_golden_1")


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
        _renamed_by_hand,
    ),
    Case("moved-is-an-update", MOVED_AFTER, _api, MOVED_BEFORE),
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
        _setup_unfinished,
    ),
    Case("delete-what-the-manifest-no-longer-names", BASE, _with_scratch, before=SCRATCH),
    Case("duplicates", BASE, _duplicates),
    Case(
        "suspend",
        BASE.replace("resource_size: SMALL", "resource_size: SMALL\n    state: suspended"),
        converged,
        before=BASE,
    ),
    Case(
        "resume",
        BASE,
        _suspended,
    ),
    Case("recreate-after-failure-and-shutdown", BASE_WORKERS, _failed_builders),
    Case(
        "object-upload-did-not-finish",
        BASE,
        _uploading,
    ),
    Case("snapshot-due-then-prune", BASE, _due),
    Case(
        "first-snapshot-after-an-error",
        BASE,
        _only_an_error,
    ),
    Case(
        "first-snapshot-still-in-progress",
        BASE,
        _first_in_progress,
    ),
    Case(
        "restore-from-a-complete-snapshot",
        BASE_WORKERS,
        _two_complete,
    ),
    Case(
        "restore-after-the-first-snapshot",
        BASE_WORKERS,
        _no_snapshots,
    ),
    Case("prune-by-keep", BASE_WORKERS, _pruning),
    Case("prune-refused-while-a-status-that-matters-is-unread", BASE, _unread_matters),
    Case(
        "prune-waits-until-every-status-of-the-series-is-read",
        BASE.replace("keep: {last: 3}", "keep: {last: 2, monthly: 2}"),
        _unread_old,
    ),
    Case(
        "unread-statuses-that-cannot-matter",
        BASE.replace("keep: {last: 3}", "keep: {last: 5}"),
        _unread_kept,
    ),
    Case(
        "prune-unmanaged-snapshots-when-asked",
        BASE.replace("keep: {last: 3}", "keep: {last: 2}\n    prune_unmanaged: true"),
        _unmanaged,
    ),
    Case(
        "prevent-destroy-refuses-replace",
        BASE.replace(
            "blueprint: py311", "blueprint: py312\n    lifecycle: {prevent_destroy: true}"
        ),
        _protected_builder,
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
        _two_series,
    ),
    Case("target-a-replica-group", BASE_WORKERS, nothing, targets=("worker",)),
    Case("target-one-object", BASE_WORKERS, nothing, targets=("object.toolchain",)),
    Case("snapshot-before-destroy", FINAL.replace("py311", "py312"), _final, before=FINAL),
    Case("strangers-are-never-touched", BASE, _strangers),
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
        _due,
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
        "moved-object-keeps-the-live-object", MOVED_OBJECT_AFTER, _moved_object, MOVED_OBJECT_BEFORE
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
        _converged_final_workers,
        before=FINAL_WORKERS,
    ),
]
