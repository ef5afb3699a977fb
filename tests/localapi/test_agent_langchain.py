"""LangChain Deep Agents' Runloop sandbox (`langchain-runloop`) against the local server, unchanged:
its provider makes, re-attaches and shuts down devboxes (also from a named blueprint it builds when
missing) and its sandbox's tools (execute, ls, read, write, edit, grep, glob, upload, download) run
on a real devbox. No model is called; the tools are driven directly. The package pulls in LangChain
and model clients (~200 MB), so it is not in the `test` extra: the module skips, saying so, unless
`pip install langchain-runloop` was run in the test environment."""

from __future__ import annotations

from typing import Any

import pytest

langchain_runloop = pytest.importorskip(
    "langchain_runloop", reason="langchain-runloop is not installed (pip install langchain-runloop)"
)


@pytest.fixture
def provider(local_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The provider as its README makes it; the SDK inside finds the server by RUNLOOP_BASE_URL."""
    monkeypatch.setenv("RUNLOOP_BASE_URL", local_server.url)
    for name in ("RUNLOOP_SANDBOX_BLUEPRINT_ID", "RUNLOOP_SANDBOX_BLUEPRINT_NAME"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"DEEPAGENTS_CODE_{name}", raising=False)
    return langchain_runloop.RunloopProvider(api_key=local_server.token)


def _status(local_server: Any, devbox_id: str) -> str:
    from runloop_api_client import Runloop

    with Runloop(base_url=local_server.url, bearer_token=local_server.token) as client:
        return str(client.devboxes.retrieve(devbox_id).status)


def test_sandbox_tools_on_a_fresh_devbox(provider: Any, local_server: Any) -> None:
    sandbox = provider.get_or_create()
    assert _status(local_server, sandbox.id) == "running"

    ran = sandbox.execute("echo hello; echo oops >&2; exit 3")
    assert (ran.output, ran.exit_code) == ("hello\n\noops\n", 3)  # its own stdout + "\n" + stderr

    assert sandbox.write("/home/user/notes.txt", "alpha\nbeta\n").error is None
    assert sandbox.edit("/home/user/notes.txt", "beta", "gamma").occurrences == 1
    read = sandbox.read("/home/user/notes.txt")
    assert (read.error, read.file_data["content"]) == (None, "alpha\ngamma")
    listed = {entry["path"] for entry in sandbox.ls("/home/user").entries}
    assert "/home/user/notes.txt" in listed
    grep = sandbox.grep("gamma", path="/home/user", glob="*.txt")
    assert [(m["path"], m["line"]) for m in grep.matches] == [("/home/user/notes.txt", 2)]
    assert [m["path"] for m in sandbox.glob("*.txt", path="/home/user").matches] == [
        "/home/user/notes.txt"
    ]

    payload = bytes(range(256)) * 3
    assert sandbox.upload_files([("/home/user/blob.bin", payload)])[0].error is None
    (down,) = sandbox.download_files(["/home/user/blob.bin"])
    assert (down.error, down.content) == (None, payload)

    again = provider.get_or_create(sandbox_id=sandbox.id)  # re-attach by id
    assert again.execute("wc -c < /home/user/blob.bin").output == "768\n"

    provider.delete(sandbox_id=sandbox.id)
    assert _status(local_server, sandbox.id) == "shutdown"
    with pytest.raises(KeyError):
        provider.get_or_create(sandbox_id="dbx_does_not_exist")


def test_named_blueprint_is_built_once_then_reused(provider: Any, local_server: Any) -> None:
    dockerfile = "FROM python:3\nRUN echo baked > /home/user/baked\n"
    first = provider.get_or_create(snapshot="agent-image", blueprint_dockerfile=dockerfile)
    second = provider.get_or_create(snapshot="agent-image")  # found by name: no second build
    for sandbox in (first, second):
        assert sandbox.execute("cat /home/user/baked").output == "baked\n"
        provider.delete(sandbox_id=sandbox.id)

    from runloop_api_client import Runloop

    with Runloop(base_url=local_server.url, bearer_token=local_server.token) as client:
        builds = client.blueprints.list(name="agent-image").blueprints
    assert [b.status for b in builds] == ["build_complete"]


def test_blueprint_id_from_the_environment(
    provider: Any, local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runloop_api_client import Runloop

    with Runloop(base_url=local_server.url, bearer_token=local_server.token) as client:
        built = client.blueprints.create_and_await_build_complete(
            name="pinned", system_setup_commands=["echo pinned > /home/user/which"]
        )
    monkeypatch.setenv("RUNLOOP_SANDBOX_BLUEPRINT_ID", built.id)
    sandbox = provider.get_or_create()
    assert sandbox.execute("cat /home/user/which").output == "pinned\n"
    provider.delete(sandbox_id=sandbox.id)
