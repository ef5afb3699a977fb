"""Verify probes against the real local backend: a restored snapshot runs the command, the
probe devbox never outlives the probe, and a left-over probe is removed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from api_support import run

from reconcile.api import RunloopClient
from reconcile.apply.probe import remove_leftover_probes, run_probe
from reconcile.live.model import KEY_PROBE, TERMINAL_DEVBOX


def _active_probes(boxes: list[Any], stack: str) -> list[str]:
    return [
        b.id
        for b in boxes
        if b.metadata.get(KEY_PROBE) == stack and b.status not in TERMINAL_DEVBOX
    ]


def test_a_probe_runs_in_the_restored_snapshot_and_is_always_deleted(local_server: Any) -> None:
    async def scenario() -> None:
        async with RunloopClient(local_server.url, local_server.token) as client:
            box = await client.create_devbox({"name": "src"})
            await client.wait_for_devbox_status(box.id, ["running"], timeout=60)
            await client.write_file_contents(box.id, "/home/user/marker", "restored\n")
            snap = await client.snapshot_disk_async(box.id)
            await client.wait_for_snapshot(snap.id, timeout=60)
            good = await run_probe(
                client, "st", "golden", snap.id, "grep -q restored /home/user/marker", 60
            )
            assert (good.ok, good.reason) == (True, "exit 0")
            bad = await run_probe(
                client, "st", "golden", snap.id, "echo checking; echo broken >&2; exit 4", 60
            )
            assert (bad.ok, bad.reason) == (False, "exit 4")
            assert (bad.stdout, bad.stderr) == ("checking\n", "broken\n")
            assert _active_probes(await client.list_devboxes(), "st") == []

    run(scenario())


def test_a_cancelled_probe_still_deletes_its_devbox_and_leftovers_are_removed(
    local_server: Any,
) -> None:
    async def scenario() -> None:
        async with RunloopClient(local_server.url, local_server.token) as client:
            box = await client.create_devbox({"name": "src"})
            await client.wait_for_devbox_status(box.id, ["running"], timeout=60)
            snap = await client.snapshot_disk_async(box.id)
            await client.wait_for_snapshot(snap.id, timeout=60)
            probe = asyncio.create_task(run_probe(client, "st", "g", snap.id, "sleep 600", 900))
            for _ in range(600):  # until the probe's command runs
                if _active_probes(await client.list_devboxes(), "st"):
                    break
                await asyncio.sleep(0.05)
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
            assert _active_probes(await client.list_devboxes(), "st") == []
            left = await client.create_devbox({"name": "killed", "metadata": {KEY_PROBE: "st"}})
            other = await client.create_devbox({"name": "other", "metadata": {KEY_PROBE: "zz"}})
            assert await remove_leftover_probes(client, "st") == [left.id]
            assert _active_probes(await client.list_devboxes(), "st") == []
            assert _active_probes(await client.list_devboxes(), "zz") == [other.id]

    run(scenario())
