"""`rlstate generate`: read an account's devboxes (chosen by name, metadata, status), their
snapshots and the blueprints they use, and print a manifest that adopts them. Reads only.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reconcile.commands.common import make_client
from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.commands.interrupts import run_async
from reconcile.errors import ConfigError
from reconcile.live.model import KEY_STACK

if TYPE_CHECKING:
    from reconcile.api.client import RunloopClient
    from reconcile.api.models import Devbox
    from reconcile.generate.writer import Account

DEFAULT_STATUSES = ("running", "suspended")
# The API's devbox statuses (DevboxView.status); a --status outside them would match nothing.
STATUSES = (
    "provisioning",
    "initializing",
    "running",
    "suspending",
    "suspended",
    "resuming",
    "failure",
    "shutdown",
)


def parse_metadata(pairs: Sequence[str]) -> dict[str, str]:
    """`k=v` flags → a map; ConfigError naming a flag without `=`."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--metadata {pair!r}: expected KEY=VALUE")
        found[key] = value
    return found


def parse_statuses(status: str | None) -> tuple[str, ...]:
    """`running,suspended` → the statuses; ConfigError naming one the API never reports."""
    if not status:
        return DEFAULT_STATUSES
    statuses = tuple(s.strip() for s in status.split(",") if s.strip())
    for one in statuses:
        if one not in STATUSES:
            raise ConfigError(
                f"--status {one!r}: not a devbox status (one of {', '.join(STATUSES)})"
            )
    return statuses or DEFAULT_STATUSES


def chosen(
    box: Devbox, globs: Sequence[str], metadata: dict[str, str], statuses: Sequence[str]
) -> bool:
    """The devbox matches every filter (a glob matches its name or its id)."""
    if box.status not in statuses:
        return False
    if globs and not any(fnmatch.fnmatchcase(box.name or "", g) or box.id == g for g in globs):
        return False
    return all(box.metadata.get(k) == v for k, v in metadata.items())


async def read_account(
    client: RunloopClient, globs: Sequence[str], metadata: dict[str, str], statuses: Sequence[str]
) -> Account:
    """The chosen devboxes (those another stack owns are left out and named), their snapshots
    (one list per devbox), and the blueprints when any devbox uses one."""
    from reconcile.generate.writer import Account

    picked, skipped = [], []
    for box in await client.list_devboxes():
        if not chosen(box, globs, metadata, statuses):
            continue
        owner = box.metadata.get(KEY_STACK)
        if owner:
            skipped.append(f"{box.id} ({box.name or 'no name'}): stack {owner!r} manages it")
        else:
            picked.append(box)
    snapshots = []
    for box in picked:
        snapshots.extend(await client.list_snapshots(devbox_id=box.id))
    uses = any(b.blueprint_id and not b.snapshot_id for b in picked)
    blueprints = await client.list_blueprints() if uses else []
    return Account(tuple(picked), tuple(snapshots), tuple(blueprints), tuple(skipped))


def run(conn: object, stack: str, globs: list[str], metadata: list[str], status: str | None) -> int:
    """Print the manifest on stdout (messages on stderr)."""
    from reconcile.generate.writer import render_manifest
    from reconcile.manifest.schema import STACK_PATTERN

    assert isinstance(conn, ConnectionSettings)
    if not re.match(STACK_PATTERN, stack):
        raise ConfigError(f"--stack {stack!r}: use lowercase letters, digits and -, at most 40")
    wanted = parse_metadata(metadata)
    statuses = parse_statuses(status)
    with connect(conn, quiet=True) as endpoint:

        async def go() -> Account:
            async with make_client(endpoint) as client:
                return await read_account(client, globs, wanted, statuses)

        account = run_async(go())
    sys.stdout.write(render_manifest(account, stack, endpoint.origin))
    sys.stderr.write(
        f"rlstate: wrote a manifest of {len(account.devboxes)} devbox(es) "
        f"and {len(account.snapshots)} snapshot(s) of theirs\n"
    )
    return 0
