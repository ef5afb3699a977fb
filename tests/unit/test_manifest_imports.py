"""`import:` entries: what validate reports (file:line, one line each) and the JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.errors import ManifestError
from reconcile.manifest import load_manifest
from reconcile.manifest.schema import manifest_json_schema

HEAD = """version: 1
stack: demo
objects:
  data: {path: data.txt}
devboxes:
  api: {}
  web: {replicas: 2}
snapshots:
  nightly: {devbox: api, keep: {last: 3}}
import:
"""


def _problems(tmp_path: Path, entries: str) -> list[str]:
    (tmp_path / "data.txt").write_text("x")
    path = tmp_path / "rlstate.yaml"
    path.write_text(HEAD + entries)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    return [str(p).split("rlstate.yaml:", 1)[1] for p in caught.value.problems]


def test_good_entries_load_and_keep_their_fields(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("x")
    path = tmp_path / "rlstate.yaml"
    path.write_text(
        HEAD
        + "  - {to: devbox.api, id: dbx_1}\n"
        + "  - {to: snapshot.nightly, devbox: dbx_1}\n"
        + "  - {to: object.data, id: obj_1}\n"
    )
    imports = load_manifest(path).manifest.imports
    assert [(i.to, i.id, i.devbox) for i in imports] == [
        ("devbox.api", "dbx_1", None),
        ("snapshot.nightly", None, "dbx_1"),
        ("object.data", "obj_1", None),
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{to: devbox.apx, id: dbx_1}", "11:10: import[0].to: devbox.apx is not declared"),
        ("{to: devbox.web, id: dbx_1}", "11:10: import[0].to: devbox.web has replicas"),
        ("{to: devbox.api, id: obj_1}", "11:26: import[0].id: expected a dbx_… id, got 'obj_1'"),
        ("{to: object.data, id: dbx_1}", "11:27: import[0].id: expected a obj_… id"),
        ("{to: devbox.api}", "11:10: import[0].to: an import into a devbox needs `id: dbx_…`"),
        ("{to: snapshot.nightly, devbox: dbx_2}", "11:10: import[0].to: an import into a snapshot"),
        ("{to: thing.x, id: dbx_1}", "11:10: import[0].to: must be an address"),
    ],
)
def test_a_bad_entry_is_one_located_line(tmp_path: Path, entry: str, expected: str) -> None:
    text = f"  - {entry}\n"
    if "snapshot.nightly" in entry:  # the series' devbox is imported as another id
        text = "  - {to: snapshot.nightly, devbox: dbx_2}\n  - {to: devbox.api, id: dbx_1}\n"
        expected = "11:36: import[0].devbox: snapshot.nightly snapshots devbox api (dbx_1)"
    found = _problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_duplicates_name_the_earlier_entry(tmp_path: Path) -> None:
    found = _problems(
        tmp_path,
        "  - {to: devbox.api, id: dbx_1}\n  - {to: devbox.api, id: dbx_1}\n",
    )
    assert "12:10: import[1].to: devbox.api is imported more than once (also import[0])" in found
    assert "12:26: import[1].id: dbx_1 is imported more than once (also import[0])" in found


def test_the_json_schema_has_import_entries() -> None:
    schema = manifest_json_schema()
    entry = schema["$defs"]["ImportSpec"]
    assert schema["properties"]["import"]["items"] == {"$ref": "#/$defs/ImportSpec"}
    assert set(entry["properties"]) == {"to", "id", "devbox"}
    assert entry["additionalProperties"] is False
