"""Blueprint builds, emulated: a fresh disk (or the base blueprint's image), the setup commands
run in the sandbox, the disk saved as an image under the blueprint's id. No HTTP here.

What is emulated: `system_setup_commands`; the `RUN` lines of a `dockerfile` (shell form, and exec
form joined into one shell line; `ENV`/`ARG` values set the environment of later lines; `build_args`
fill `ARG`s); `file_mounts` written before the commands; `base_blueprint_id`/`base_blueprint_name`
as the starting image. Not emulated: `FROM` images (every build starts from the host system the
sandbox shows), `COPY`/`ADD`, `WORKDIR`, `USER`, `build_context`, `code_mounts`, `services`,
`secrets`, network policies. Statuses: queued → building → build_complete | failed. The create
call waits a moment for the build, so a small build is complete by the first status poll.
"""

from __future__ import annotations

import asyncio
import json
import shlex

from reconcile.localapi.disk import DiskError
from reconcile.localapi.state.backend import Backend, log
from reconcile.localapi.state.problems import Invalid
from reconcile.localapi.state.records import Blueprint
from reconcile.localapi.workers.runner import Runner

# How long create waits for a build before answering, so that a small build is complete by the
# first status poll (a client that reads one status and goes on then sees the truth).
BUILD_GRACE_SECONDS = 2.0
BUILDING = ("queued", "provisioning", "building")


def dockerfile_steps(dockerfile: str) -> list[tuple[str, str]]:
    """The (instruction, argument) pairs of a Dockerfile, continuation lines joined."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        steps.append((word.upper(), rest.strip()))
    return steps


def dockerfile_commands(dockerfile: str, build_args: dict[str, str]) -> list[str]:
    """Shell lines for the RUN instructions, prefixed with the ENV/ARG values seen so far."""
    env: dict[str, str] = {}
    commands: list[str] = []
    for word, arg in dockerfile_steps(dockerfile):
        if word in ("ENV", "ARG"):
            env.update(_assignments(word, arg, build_args))
        elif word == "RUN":
            line = _run_line(arg)
            exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items())
            commands.append(exports + line)
    return commands


def _run_line(arg: str) -> str:
    if arg.startswith("["):
        try:
            parts = json.loads(arg)
        except json.JSONDecodeError:
            return arg
        if isinstance(parts, list):
            return shlex.join(str(p) for p in parts)
    return arg


def _assignments(word: str, arg: str, build_args: dict[str, str]) -> dict[str, str]:
    try:
        tokens = shlex.split(arg)
    except ValueError:
        return {}
    if word == "ENV" and len(tokens) >= 2 and "=" not in tokens[0]:
        return {tokens[0]: " ".join(tokens[1:])}
    found: dict[str, str] = {}
    for token in tokens:
        key, eq, value = token.partition("=")
        if word == "ARG":
            found[key] = build_args.get(key, value if eq else "")
        elif eq:
            found[key] = value
    return found


class Builds:
    """Runs blueprint builds in the background."""

    def __init__(self, backend: Backend, runner: Runner) -> None:
        self.b = backend
        self.runner = runner

    def newest_built(self, name: str) -> Blueprint | None:
        built = [
            bp
            for bp in self.b.blueprints.values()
            if bp.name == name and bp.status == "build_complete" and bp.state == "created"
        ]
        return max(built, key=lambda bp: bp.id, default=None)

    def newest_usable(self, name: str) -> Blueprint | None:
        """The newest successful build of `name`, else the newest one still building."""
        building = [
            bp
            for bp in self.b.blueprints.values()
            if bp.name == name and bp.status in BUILDING and bp.state == "created"
        ]
        return self.newest_built(name) or max(building, key=lambda bp: bp.id, default=None)

    async def until_built(self, bpt: Blueprint) -> str | None:
        """Wait while the build runs; None once built, else why the image will never exist."""
        await self.b.notifier.wait_until(
            bpt.id, lambda: bpt.status not in BUILDING or bpt.state != "created", None
        )
        if bpt.state != "created":
            return f"blueprint {bpt.id} was deleted"
        if bpt.status != "build_complete":
            return f"the build of blueprint {bpt.id} failed ({bpt.failure_reason or bpt.status})"
        return None

    def base_of(self, params: dict[str, object]) -> str | None:
        base_id, base_name = params.get("base_blueprint_id"), params.get("base_blueprint_name")
        if base_id and base_name:
            raise Invalid(
                "base_blueprint_id: give base_blueprint_id or base_blueprint_name, not both"
            )
        if isinstance(base_id, str) and base_id:
            bp = self.b.blueprints.get(base_id)
            if bp is None or bp.status != "build_complete" or bp.state != "created":
                raise Invalid(f"base_blueprint_id: no built blueprint {base_id}")
            return base_id
        if isinstance(base_name, str) and base_name:
            found = self.newest_built(base_name)
            if found is None:
                raise Invalid(f"base_blueprint_name: no built blueprint named {base_name!r}")
            return found.id
        return None

    async def start(self, bpt: Blueprint) -> Blueprint:
        """Record the blueprint and build it in the background; returns when the build is done
        or after BUILD_GRACE_SECONDS, whichever is first."""
        self.b.save(bpt)
        task = self.b.spawn(self._build(bpt), owner=bpt.id)
        await asyncio.wait({task}, timeout=BUILD_GRACE_SECONDS)
        return bpt

    async def _build(self, bpt: Blueprint) -> None:
        await asyncio.sleep(max(self.b.settings.transition_seconds, 0.0))
        self._set(bpt, "building", "build started")
        params = bpt.parameters
        build_args = {str(k): str(v) for k, v in (params.get("build_args") or {}).items()}
        commands = dockerfile_commands(str(params.get("dockerfile") or ""), build_args)
        commands += [str(c) for c in params.get("system_setup_commands") or []]
        try:
            await asyncio.to_thread(self.b.disks.create_disk, bpt.id, bpt.base_blueprint_id)
            for path, content in (params.get("file_mounts") or {}).items():
                await asyncio.to_thread(
                    self.b.disks.write_file, bpt.id, str(path), str(content).encode()
                )
            result = await self.runner.run_script(bpt.id, commands, {})
            self._log(bpt, result.output)
            if not result.ok:
                self._fail(bpt, f"command {result.failed_command!r} exited {result.exit_status}")
                return
            await asyncio.to_thread(self.b.disks.save_image, bpt.id, bpt.id)
        except (DiskError, OSError) as exc:
            self._fail(bpt, str(exc))
            return
        except Exception as exc:  # a bug must not leave the build running forever
            log.exception("blueprint build %s failed unexpectedly", bpt.id)
            self._fail(bpt, f"internal error: {type(exc).__name__}")
            return
        finally:
            await asyncio.to_thread(self.b.disks.delete_disk, bpt.id)
        bpt.build_finish_time_ms = self.b.now_ms()
        self._set(bpt, "build_complete", "build complete")

    def _set(self, bpt: Blueprint, status: str, message: str) -> None:
        """Log `message` and move the build to `status` (as the table allows): one write."""
        self._append(bpt, message)
        if not self.b.move_blueprint(bpt, status):
            self.b.save(bpt)

    def _log(self, bpt: Blueprint, text: str, level: str = "info") -> None:
        self._append(bpt, text, level)
        self.b.save(bpt)

    def _append(self, bpt: Blueprint, text: str, level: str = "info") -> None:
        now = self.b.now_ms()
        bpt.logs.extend(
            {"level": level, "timestamp_ms": now, "message": line} for line in text.splitlines()
        )
        del bpt.logs[:-1000]

    def _fail(self, bpt: Blueprint, why: str) -> None:
        bpt.failure_reason = "build_failed"
        bpt.build_finish_time_ms = self.b.now_ms()
        self._log(bpt, why, "error")
        self._set(bpt, "failed", "build failed")

    def recover(self) -> None:
        for bpt in self.b.blueprints.values():
            if bpt.status in BUILDING:
                self._fail(bpt, "server restarted during the build")
