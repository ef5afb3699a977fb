"""The planner's side of `import:` entries, on hand-built live states: what is adopted, what is
compared, what is refused. Pure: no API, the live state is data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from planner_support import NOW, ago, write_manifest

from reconcile.errors import AdoptionError
from reconcile.live.model import Imported, LiveDevbox, LiveObject, LiveSnapshot, LiveState
from reconcile.plan.desired import desired_devboxes, devbox_metadata
from reconcile.plan.model import Plan
from reconcile.plan.params import DevboxAdopt, SnapshotAdopt
from reconcile.plan.planner import build_plan
from reconcile.render import render_plan_text

LAUNCH = {"resource_size_request": "SMALL", "architecture": "x86_64"}
MANIFEST = """version: 1
stack: demo
objects:
  data: {path: data.txt, content_type: text}
devboxes:
  api:
    blueprint: base
    resource_size: SIZE
    metadata: {team: core}
    env: {MODE: prod}
snapshots:
  nightly: {devbox: api, keep: {last: 5}}
import:
  - {to: devbox.api, id: dbx_A}
  - {to: snapshot.nightly, devbox: dbx_A}
  - {to: object.data, id: obj_D}
"""


def _box(metadata: dict[str, str] | None = None, status: str = "running") -> LiveDevbox:
    meta = {"team": "core"} if metadata is None else metadata
    return LiveDevbox("dbx_A", "api", status, ago(days=3), meta, "bpt_1", None, LAUNCH)


def _plan(
    tmp_path: Path,
    box: LiveDevbox,
    *,
    size: str = "SMALL",
    data: str = "hello",
    snaps: tuple[LiveSnapshot, ...] = (),
    allow: bool = False,
) -> Plan:
    loaded = write_manifest(tmp_path, MANIFEST.replace("SIZE", size), {"data.txt": "hello"}, {})
    obj = LiveObject("obj_D", "data.txt", "READ_ONLY", "text", ago(days=9))
    imported = Imported(
        devboxes={box.id: box},
        objects={obj.id: obj},
        object_sha256={obj.id: hashlib.sha256(data.encode()).hexdigest()},
        blueprint_names={"bpt_1": "base"},
    )
    owned = (box,) if box.metadata.get("rlstate.stack") == "demo" else ()
    live = LiveState("demo", devboxes=owned, snapshots=snaps, imported=imported)
    return build_plan(loaded, live, NOW, allow_replace_adopted=allow)


def test_a_matching_devbox_its_snapshots_and_object_are_adopted_in_place(tmp_path: Path) -> None:
    snaps = tuple(
        LiveSnapshot(f"snp_{i}", ago(days=i + 1), "dbx_A", {"by": "sdk"}, status="complete")
        for i in range(3)
    )
    plan = _plan(tmp_path, _box(), snaps=snaps)

    assert [(a.kind, a.address, a.resource_id) for a in plan.actions] == [
        ("adopt", "devbox.api", "dbx_A"),
        *[
            ("adopt", "snapshot.nightly", s.id)
            for s in sorted(snaps, key=lambda s: s.create_time_ms)
        ],
    ]
    devbox = plan.actions[0].params_as(DevboxAdopt)
    assert devbox.metadata["rlstate.stack"] == "demo"
    assert devbox.metadata["rlstate.adopted"] == "true"
    assert devbox.metadata["team"] == "core" and devbox.metadata["rlstate.ready"] == "true"
    snap = plan.actions[1].params_as(SnapshotAdopt)
    assert snap.metadata["by"] == "sdk" and snap.metadata["rlstate.series"] == "nightly"
    assert snap.metadata["rlstate.state"] == "complete"
    assert all(r.keep for r in plan.retention)  # nothing pruned in the adopting run
    text = render_plan_text(plan)
    assert "  = adopt devbox.api (dbx_A)" in text and "not compared: env, mounts, setup" in text
    assert "object.data is obj_D, adopted by content" in text
    assert "Plan: 4 to adopt." in text


def test_after_adoption_the_devbox_is_the_stacks_and_nothing_changes(tmp_path: Path) -> None:
    first = _plan(tmp_path, _box())
    stamped = _box(first.actions[0].params_as(DevboxAdopt).metadata)

    again = _plan(tmp_path, stamped)

    # (the series, which has no snapshot yet, takes its first one: nothing else happens)
    assert [a.id for a in again.actions] == ["snapshot snapshot.nightly"]


def test_an_echoed_difference_is_a_replacement_refused_without_the_flag(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _box(), size="LARGE")

    replace = plan.action("replace devbox.api")
    assert replace.reasons[0] == "forced by resource_size"
    assert [(c.field, c.before, c.after) for c in replace.changes] == [
        ("resource_size", "SMALL", "LARGE")
    ]
    assert [r.message for r in plan.refusals] == [
        "devbox.api (dbx_A) was adopted, not created by rlstate, and replacing it destroys it; "
        "pass --allow-replace-adopted, or make the manifest match it"
    ]
    assert _plan(tmp_path, _box(), size="LARGE", allow=True).refusals == ()


def test_a_devbox_adopted_earlier_still_needs_the_flag_to_be_replaced(tmp_path: Path) -> None:
    loaded = write_manifest(tmp_path, MANIFEST.replace("SIZE", "SMALL"), {"data.txt": "x"}, {})
    want = desired_devboxes(loaded)[0]
    meta = {**devbox_metadata("demo", want, ready=True), "rlstate.adopted": "true"}
    meta["rlstate.fields"] = meta["rlstate.fields"].replace("env:", "env:0")  # env changed since

    plan = _plan(tmp_path, _box(meta))

    assert plan.action("replace devbox.api").reasons[0] == "forced by env"
    assert len(plan.refusals) == 1


def test_metadata_and_name_differences_are_written_by_the_adoption(tmp_path: Path) -> None:
    box = LiveDevbox("dbx_A", "API box", "suspended", 1, {"team": "old"}, "bpt_1", None, LAUNCH)

    plan = _plan(tmp_path, box)

    adopt = plan.action("adopt devbox.api")
    assert {c.field for c in adopt.changes} == {"name", "metadata"}
    assert adopt.params_as(DevboxAdopt).name == "api"
    assert [a.kind for a in plan.actions if a.resource == "devbox"] == ["adopt", "resume"]


@pytest.mark.parametrize(
    ("box", "message"),
    [
        (_box({"rlstate.stack": "other"}), "it belongs to stack 'other'"),
        (_box(status="shutdown"), "it is shutdown; only a live devbox can be adopted"),
        (
            _box({"rlstate.stack": "demo", "rlstate.name": "web"}),
            "this stack already manages it as devbox.web",
        ),
    ],
)
def test_what_cannot_be_adopted_fails_the_plan_saying_why(
    tmp_path: Path, box: LiveDevbox, message: str
) -> None:
    with pytest.raises(AdoptionError, match=message):
        _plan(tmp_path, box)


def test_an_object_with_other_bytes_is_not_adopted(tmp_path: Path) -> None:
    with pytest.raises(AdoptionError, match=r"cannot be adopted: its bytes hash to sha256"):
        _plan(tmp_path, _box(), data="other")
