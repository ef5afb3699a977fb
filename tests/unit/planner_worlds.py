"""The worlds of the planner's named cases: manifest texts and the live states built around them.

Not a test module (it holds no tests). Each builder takes a `World` (planner_support) and
adds live resources made from the case's `before` manifest, or strangers.
"""

from __future__ import annotations

from planner_support import World, ago

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


def failed_builders(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", id="dbx_builder_old", status="failure", created=ago(days=3))
    world.snapshot("golden", "snp_golden_1", ago(hours=2))
    world.devbox("worker-0", status="failure", snapshot_id="snp_golden_1")
    world.devbox("worker-1", status="shutdown", snapshot_id="snp_golden_1")


def duplicates(world: World) -> None:
    world.object("toolchain", id="obj_toolchain_a", created=ago(days=3))
    world.object("toolchain", id="obj_toolchain_b", created=ago(days=2))
    world.devbox("builder", id="dbx_builder_a", created=ago(days=3))
    world.devbox("builder", id="dbx_builder_b", created=ago(days=2))
    world.devbox("builder", id="dbx_builder_c", created=ago(days=1), ready=False)
    world.snapshot("golden", "snp_golden_1", ago(hours=2), devbox="dbx_builder_b")


def due(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    for day in range(5, 1, -1):
        world.snapshot("golden", f"snp_golden_d{day}", ago(days=day, hours=-1))
    world.snapshot("golden", "snp_golden_err", ago(hours=40), "error")


def pruning(world: World) -> None:
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


def unread_matters(world: World) -> None:
    """keep last 3 over six snapshots; the second newest was never read (it might be an error,
    in which case the fourth would be kept): nothing may be pruned."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(6, 0, -1):
        status = "unread" if n == 2 else "complete"
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n * 3), status)


def unread_old(world: World) -> None:
    """keep last 2 and monthly 2: four snapshots today, one from September never read. The
    rules would prune two of today's; a series that prunes has every status read first (the
    September one could be an error, or hold a monthly slot), so nothing goes yet."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(4, 0, -1):
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n * 2))
    world.snapshot("golden", "snp_golden_september", ago(days=70), "unread")


def unread_kept(world: World) -> None:
    """keep last 5 over four snapshots, the older two unread: whatever their status, nothing
    would be pruned, so their statuses are not needed and nothing is refused."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(4, 0, -1):
        status = "unread" if n > 2 else "complete"
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n * 2), status)


def unmanaged(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))
    for n in range(1, 4):
        world.stranger_snapshot(f"snp_by_hand_{n}", ago(days=n), {"note": "taken by hand"})
    world.stranger_snapshot("snp_other_stack", ago(days=5), {"rlstate.stack": "other"})


def strangers(world: World) -> None:
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


def with_scratch(world: World) -> None:
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


def final(world: World) -> None:
    converged(world)
    world.devbox("cache")


def renamed_by_hand(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", live_name="renamed-by-hand")


def api(world: World) -> None:
    world.devbox("api")


def setup_unfinished(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", ready=False)
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def suspended(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder", status="suspended")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def uploading(world: World) -> None:
    world.object("toolchain", state="UPLOADING")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


def only_an_error(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_err", ago(hours=1), "error")


def first_in_progress(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_busy", ago(minutes=1), "in_progress")


def two_complete(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_old", ago(hours=20))
    world.snapshot("golden", "snp_golden_new", ago(hours=2))


def no_snapshots(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")


def protected_builder(world: World) -> None:
    world.object("toolchain")
    world.devbox("builder")


def two_series(world: World) -> None:
    converged(world)
    world.snapshot("golden", "snp_golden_0", ago(days=3))
    world.snapshot("gone", "snp_gone_1", ago(days=3), protect=True)


def moved_object(world: World) -> None:
    world.object("tools")
    world.devbox("builder")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))


OTHER_SERIES = (
    BASE
    + """\
  weekly:
    devbox: builder
    every: 7d
    keep: {last: 1}
"""
)


def other_series_due(world: World) -> None:
    """golden is fresh but over its `keep`; weekly is due: golden's prunes wait for weekly's
    snapshot (a run whose own snapshot failed prunes nothing)."""
    world.object("toolchain")
    world.devbox("builder")
    for n in range(5, 0, -1):
        world.snapshot("golden", f"snp_golden_{n}", ago(hours=n))
    world.snapshot("weekly", "snp_weekly_1", ago(days=8))
