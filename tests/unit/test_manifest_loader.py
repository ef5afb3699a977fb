"""load_manifest's interface: what LoadedManifest carries, env and secrets, object files, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reconcile.errors import ManifestError, UserError
from reconcile.manifest import LoadedManifest, ObjectFile, infer_content_type, load_manifest
from reconcile.manifest.schema import manifest_json_schema

REPO = Path(__file__).resolve().parents[2]
VALID = REPO / "tests/data/valid"
SECRET = "s3cret-value-from-the-environment"


def write(folder: Path, text: str, name: str = "rlstate.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_spec_example_loads_with_everything_it_declares() -> None:
    path = VALID / "spec-example.yaml"
    loaded = load_manifest(path, {"CI_TOKEN": SECRET})
    manifest = loaded.manifest
    assert (manifest.stack, sorted(manifest.devboxes), sorted(manifest.snapshots)) == (
        "demo",
        ["builder", "worker"],
        ["golden"],
    )
    assert loaded.path == path.absolute()
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest.devboxes["worker"].replicas == 3
    assert manifest.moved[0].from_ == "devbox.old-name"
    assert manifest.snapshots["golden"].keep.within is not None
    assert loaded.env == {"CI_TOKEN": SECRET}
    assert loaded.sensitive == frozenset({"devboxes.builder.env.TOKEN"})
    # The manifest keeps the template; only resolve() produces the value.
    assert manifest.devboxes["builder"].env["TOKEN"] == "${env:CI_TOKEN}"
    assert loaded.resolve(manifest.devboxes["builder"].env["TOKEN"]) == SECRET


def test_secrets_never_show_in_reprs() -> None:
    loaded = load_manifest(VALID / "spec-example.yaml", {"CI_TOKEN": SECRET})
    assert SECRET not in repr(loaded)
    assert SECRET not in repr(loaded.manifest)


def test_defaults_env_is_sensitive_in_every_devbox_that_inherits_it() -> None:
    environ = {"CI_TOKEN": SECRET, "API_HOST": "api.example.test"}
    loaded = load_manifest(VALID / "defaults-env.yaml", environ)
    assert loaded.sensitive == frozenset(
        {
            "defaults.env.TOKEN",
            "devboxes.uses-default.env.TOKEN",  # inherited
            "devboxes.overrides.env.URL",  # overrides has its own TOKEN: a literal, not secret
        }
    )
    url = loaded.manifest.devboxes["overrides"].env["URL"]
    assert loaded.resolve(url) == f"https://api.example.test/v1?token={SECRET}"


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLSTATE_TEST_TOKEN", "from-os-environ")
    path = write(
        tmp_path,
        'version: 1\nstack: s\ndevboxes:\n  a:\n    env: {T: "${env:RLSTATE_TEST_TOKEN}"}\n',
    )
    assert load_manifest(path).env == {"RLSTATE_TEST_TOKEN": "from-os-environ"}


def test_an_empty_variable_counts_as_set(tmp_path: Path) -> None:
    path = write(tmp_path, 'version: 1\nstack: s\ndefaults:\n  env: {T: "${env:EMPTY}"}\n')
    assert load_manifest(path, {"EMPTY": ""}).env == {"EMPTY": ""}


def test_resolve_refuses_a_variable_it_did_not_read() -> None:
    loaded = load_manifest(VALID / "minimal.yaml", {"OTHER": "x"})
    with pytest.raises(KeyError):
        loaded.resolve("${env:OTHER}")


def test_object_files_are_hashed_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(b"\x00\x01payload")
    path = write(tmp_path, "version: 1\nstack: s\nobjects:\n  data: {path: sub/data.bin}\n")
    loaded = load_manifest(path)
    assert loaded.objects == {
        "data": ObjectFile(
            path=tmp_path / "sub" / "data.bin",
            sha256=hashlib.sha256(b"\x00\x01payload").hexdigest(),
            size=9,
            content_type="unspecified",
        )
    }
    unhashed = load_manifest(path, hash_objects=False).objects["data"]
    assert (unhashed.sha256, unhashed.size) == ("", 9)


def test_declared_content_type_wins_over_the_file_name() -> None:
    loaded = load_manifest(VALID / "content-types.yaml")
    types = {name: obj.content_type for name, obj in loaded.objects.items()}
    assert types == {"archive": "tgz", "notes": "text", "notes-binary": "binary"}


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text"),
        ("index.HTML", "text"),
        ("style.css", "text"),
        ("app.js", "text"),
        ("data.json", "text"),
        ("feed.xml", "text"),
        ("conf.yaml", "text"),
        ("conf.yml", "text"),
        ("README.md", "text"),
        ("table.csv", "text"),
        ("log.gz", "gzip"),
        ("tree.tar", "tar"),
        ("tree.tgz", "tgz"),
        ("tree.tar.gz", "tgz"),
        ("tool.zip", "unspecified"),
        ("binary", "unspecified"),
        ("archive.tar.bz2", "unspecified"),
    ],
)
def test_content_type_is_inferred_like_the_sdk(name: str, content_type: str) -> None:
    assert infer_content_type(name) == content_type


def test_a_missing_manifest_is_one_clean_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        load_manifest(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_a_folder_is_not_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory"):
        load_manifest(tmp_path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 3\nstack: BAD\ndevboxes:\n  a: {keep_alive: 1y, sise: SMALL}\n",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert [(p.line, p.column, p.path) for p in caught.value.problems] == [
        (1, 10, "version"),
        (2, 8, "stack"),
        (4, 19, "devboxes.a.keep_alive"),
        (4, 23, "devboxes.a.sise"),
    ]
    assert str(caught.value).count("\n") == 3


@pytest.mark.parametrize("written", ["true", "1.0"])
def test_version_must_be_the_integer_one(tmp_path: Path, written: str) -> None:
    """The spec makes `version` an integer: a boolean or a float that equals 1 is not one."""
    path = write(tmp_path, f"version: {written}\nstack: s\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert [(p.line, p.column, p.path) for p in caught.value.problems] == [(1, 10, "version")]
    assert f"must be 1, the only manifest version (got {written})" in str(caught.value)


def test_problems_name_the_file_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "version: 1\nstack: s\nbogus: 1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ManifestError) as caught:
        load_manifest(Path("rlstate.yaml"))
    assert str(caught.value) == (
        "rlstate.yaml:3:1: bogus: unknown field 'bogus' (allowed here: version, backend, stack,"
        " defaults, objects, devboxes, blueprints, snapshots, moved, import)"
    )


def test_a_valid_manifest_is_immutable() -> None:
    loaded = load_manifest(VALID / "minimal.yaml")
    assert isinstance(loaded, LoadedManifest)
    with pytest.raises(AttributeError):
        loaded.path = Path("/elsewhere")  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded.objects["x"] = loaded.objects.get("x")  # type: ignore[index]


def test_the_json_schema_names_every_section() -> None:
    schema = manifest_json_schema()
    assert schema["required"] == ["version", "stack"]
    assert set(schema["properties"]) == {
        "version",
        "backend",
        "stack",
        "defaults",
        "objects",
        "devboxes",
        "blueprints",
        "snapshots",
        "moved",
        "import",
    }
