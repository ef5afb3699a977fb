"""Typed action params in the plan file: each (resource, kind) reads back as its own class, and
a plan file whose params do not fit, or of an older format, is refused with a clear message."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reconcile.errors import PlanFileError
from reconcile.plan.model import FORMAT_VERSION, Action, Plan
from reconcile.plan.params import (
    DevboxAdopt,
    DevboxCreate,
    DevboxReplace,
    FinalSnapshot,
    NoParams,
    SnapshotAdopt,
    SnapshotMark,
    SnapshotTake,
)
from reconcile.plan.planfile import load_plan, save_plan

BODY = {"name": "web", "metadata": {"rlstate.stack": "demo"}}


def _plan(*actions: Action) -> Plan:
    return Plan("demo", "rlstate.yaml", "0" * 64, "2026-11-24T09:00:00+00:00", actions=actions)


def _replace() -> Action:
    final = FinalSnapshot(series=None, name="web-final", metadata={"rlstate.stack": "demo"})
    params = DevboxReplace(BODY, ("make",), "running", None, old_id="dbx_1", final_snapshot=final)
    return Action("replace devbox.web", "replace", "devbox", "devbox.web", params=params)


def test_each_kind_reads_back_as_its_own_class(tmp_path: Path) -> None:
    take = SnapshotTake(series="golden", devbox="dbx_1", name="golden-1", metadata={})
    plan = _plan(
        _replace(),
        Action("snapshot snapshot.golden", "snapshot", "snapshot", "snapshot.golden", params=take),
        Action("suspend devbox.db", "suspend", "devbox", "devbox.db", resource_id="dbx_2"),
    )
    save_plan(plan, tmp_path / "plan.json")

    loaded = load_plan(tmp_path / "plan.json")

    assert loaded == plan
    assert [type(a.params) for a in loaded.actions] == [DevboxReplace, SnapshotTake, NoParams]
    assert loaded.actions[0].params_as(DevboxCreate).setup == ("make",)
    with pytest.raises(PlanFileError, match="carries SnapshotTake, not DevboxCreate"):
        loaded.actions[1].params_as(DevboxCreate)


def test_params_that_do_not_fit_their_kind_are_refused(tmp_path: Path) -> None:
    data = json.loads(_plan(_replace()).to_json())
    del data["actions"][0]["params"]["old_id"]
    data["actions"][0]["params"]["extra"] = 1
    (tmp_path / "plan.json").write_text(json.dumps(data))

    with pytest.raises(PlanFileError) as refused:
        load_plan(tmp_path / "plan.json")

    assert str(refused.value) == (
        f"{tmp_path / 'plan.json'}: cannot use the saved plan "
        "(is damaged or of another format (params of a devbox replace do not fit: extra, old_id))"
    )


def test_a_plan_of_another_format_says_to_plan_again(tmp_path: Path) -> None:
    data = json.loads(_plan(_replace()).to_json())
    data["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "plan.json").write_text(json.dumps(data))

    with pytest.raises(PlanFileError) as refused:
        load_plan(tmp_path / "plan.json")

    assert str(refused.value) == (
        f"{tmp_path / 'plan.json'}: saved plan has format_version {FORMAT_VERSION + 1}; "
        f"this rlstate reads {FORMAT_VERSION}: run `rlstate plan` again"
    )


def test_adoptions_and_notes_read_back(tmp_path: Path) -> None:
    devbox = DevboxAdopt(name="api", metadata={"rlstate.stack": "demo", "team": "core"})
    snap = SnapshotAdopt(series="nightly", metadata={"rlstate.series": "nightly"})
    plan = replace(
        _plan(
            Action("adopt devbox.api", "adopt", "devbox", "devbox.api", (), "dbx_1", params=devbox),
            Action(
                "adopt snapshot.nightly snp_1",
                "adopt",
                "snapshot",
                "snapshot.nightly",
                (),
                "snp_1",
                params=snap,
            ),
        ),
        notes=("object.data is obj_1, adopted by content",),
    )
    save_plan(plan, tmp_path / "plan.json")

    loaded = load_plan(tmp_path / "plan.json")

    assert loaded == plan
    assert [type(a.params) for a in loaded.actions] == [DevboxAdopt, SnapshotAdopt]
    assert loaded.counts() == {"adopt": 2}
    assert "notes" not in _plan().to_dict()  # written only when there are any


def _snapshot_updates() -> Plan:
    meta = {"rlstate.series": "nightly"}
    adopt = SnapshotAdopt(series="nightly", metadata=meta, name="manual-1")
    mark = SnapshotMark("2026-11-26T09:00:00Z", {**meta, "rlstate.delete_after": "x"}, "api-2")
    return _plan(
        Action("adopt s", "adopt", "snapshot", "snapshot.nightly", (), "snp_1", params=adopt),
        Action("mark s", "mark", "snapshot", "snapshot.nightly", (), "snp_2", params=mark),
    )


def test_snapshot_updates_carry_the_name_and_older_plans_without_it_still_load(
    tmp_path: Path,
) -> None:
    plan = _snapshot_updates()
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan
    data = json.loads((tmp_path / "plan.json").read_text())
    assert [a["params"]["name"] for a in data["actions"]] == ["manual-1", "api-2"]

    for action in data["actions"]:  # as a plan file of format 1 written before names were
        del action["params"]["name"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = load_plan(tmp_path / "old.json")

    assert data["format_version"] == FORMAT_VERSION == 1
    assert old.actions[0].params_as(SnapshotAdopt).name is None  # no name is sent
    assert old.actions[1].params_as(SnapshotMark).name is None
    marked = plan.actions[1].params_as(SnapshotMark).metadata
    assert old.actions[1].params_as(SnapshotMark).metadata == marked
