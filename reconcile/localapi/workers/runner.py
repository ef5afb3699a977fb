"""Runs commands in devboxes through the sandbox and keeps their output in files; no HTTP here.

Output is streamed to data_dir/outputs/<exn>.stdout|.stderr as it arrives (memory stays bounded);
views read the tail of those files. A killed command ends with exit status 128 + signal (137).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from reconcile.localapi.disk import DiskError
from reconcile.localapi.state.backend import Backend
from reconcile.localapi.state.records import Devbox, Execution
from reconcile.localapi.workers.shells import in_shell

DEFAULT_LAST_N = 100
TAIL_WINDOW = 1 << 20  # bytes of output read back for a view
SCRIPT_KEEP = 64 << 10  # bytes of build command output kept in memory
STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class ScriptResult:
    """Outcome of commands run for the server itself (blueprint builds)."""

    ok: bool
    failed_command: str | None
    exit_status: int
    output: str


def exit_status_of(returncode: int | None) -> int:
    if returncode is None:
        return 143
    return 128 - returncode if returncode < 0 else returncode


class Runner:
    """Starts, tracks, kills and reads executions."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self._by_command_id: dict[tuple[str, str], str] = {}
        self._shell_last: dict[tuple[str, str], Execution] = {}  # newest command of each shell

    def index(self) -> None:
        """Rebuild the (devbox, command_id) index from the loaded records."""
        self._by_command_id = {
            (e.devbox_id, e.command_id): e.id for e in self.b.executions.values() if e.command_id
        }

    def by_command_id(self, devbox_id: str, command_id: str) -> Execution | None:
        exn_id = self._by_command_id.get((devbox_id, command_id))
        return self.b.executions.get(exn_id) if exn_id else None

    async def start(
        self,
        dbx: Devbox,
        command: str,
        command_id: str | None = None,
        shell_name: str | None = None,
        source: str = "exec",
    ) -> Execution:
        """Start `command` in the devbox; the execution is `running` when this returns, or
        `queued` behind the command its named shell is still running (one at a time, in order).
        `source` says who ran it (exec: the API; setup_commands, entrypoint: the devbox itself)."""
        exn = Execution(
            id=self.b.new_id("execution"),
            devbox_id=dbx.id,
            command=command,
            create_time_ms=self.b.now_ms(),
            command_id=command_id,
            shell_name=shell_name,
            source=source,
        )
        if command_id:
            self._by_command_id[(dbx.id, command_id)] = exn.id
        for stream in STREAMS:
            self.b.store.output_path(exn.id, stream).write_bytes(b"")
        self.b.save(exn)
        if shell_name is None:
            await self._launch(dbx, exn, command)
            return exn
        text = in_shell(command, self.b.sandbox.tmp_dir(dbx.id), dbx.id, shell_name)
        before = self._shell_last.get((dbx.id, shell_name))
        self._shell_last[(dbx.id, shell_name)] = exn
        if before is None or before.status == "completed":
            await self._launch(dbx, exn, text)
        else:
            self.b.spawn(self._after(before, dbx, exn, text), owner=exn.id)
        return exn

    async def _after(self, before: Execution, dbx: Devbox, exn: Execution, text: str) -> None:
        await self.b.notifier.wait_until(before.id, lambda: before.status == "completed", None)
        if exn.status == "queued":  # not killed while it waited
            await self._launch(dbx, exn, text)

    async def _launch(self, dbx: Devbox, exn: Execution, command: str) -> None:
        try:
            proc = await self.b.sandbox.spawn(dbx.id, command, dbx.environment_variables)
        except (OSError, DiskError) as exc:
            self.b.store.output_path(exn.id, "stderr").write_text(f"cannot start command: {exc}\n")
            self._finish(exn, 127)
            return
        self.b.processes[exn.id] = proc
        exn.status = "running"
        self.b.save(exn)
        self.b.spawn(self._collect(exn, proc), owner=exn.id)

    async def _collect(self, exn: Execution, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            await asyncio.gather(
                self._pump(proc.stdout, exn, "stdout"), self._pump(proc.stderr, exn, "stderr")
            )
            await proc.wait()
        finally:  # also on server stop or a failing pump: never left running
            self.b.processes.pop(exn.id, None)
            self._finish(exn, exit_status_of(proc.returncode))

    async def _pump(self, reader: asyncio.StreamReader, exn: Execution, stream: str) -> None:
        with open(self.b.store.output_path(exn.id, stream), "ab") as out:
            while chunk := await reader.read(65536):
                out.write(chunk)
                out.flush()
                self.b.notifier.notify(exn.id)

    def _finish(self, exn: Execution, exit_status: int) -> None:
        if exn.status == "completed":
            return
        exn.status = "completed"
        exn.exit_status = exit_status
        exn.end_time_ms = self.b.now_ms()
        self.b.save(exn)

    async def kill(self, exn: Execution) -> Execution:
        """Kill the command's whole process group and wait until it is recorded as completed."""
        proc = self.b.processes.get(exn.id)
        if proc is not None:
            await self.b.sandbox.kill(proc)
            await self.b.notifier.wait_until(exn.id, lambda: exn.status == "completed", 10)
        if exn.status != "completed":
            self._finish(exn, 137)
        return exn

    async def run_to_end(self, dbx: Devbox, command: str, source: str) -> Execution:
        """Start a command of the devbox's own (launch command, entrypoint) and wait for its end."""
        exn = await self.start(dbx, command, source=source)
        await self.b.notifier.wait_until(exn.id, lambda: exn.status == "completed", None)
        return exn

    async def kill_all(self, devbox_id: str) -> None:
        running = [
            e
            for e in self.b.executions.values()
            if e.devbox_id == devbox_id and e.status != "completed"
        ]
        await asyncio.gather(*(self.kill(e) for e in running))

    def tail(self, exn: Execution, stream: str, last_n: int | None) -> tuple[str, bool]:
        """The last `last_n` lines of a stream and whether anything before them was left out."""
        wanted = DEFAULT_LAST_N if last_n is None else last_n
        data, cut = read_tail(str(self.b.store.output_path(exn.id, stream)), TAIL_WINDOW)
        lines = data.decode("utf-8", "replace").splitlines(keepends=True)
        if cut and lines:
            lines = lines[1:]  # the first line of the window is partial
        if wanted <= 0:
            return "", bool(lines) or cut
        return "".join(lines[-wanted:]), cut or len(lines) > wanted

    def read_from(self, exn: Execution, stream: str, offset: int) -> bytes:
        path = self.b.store.output_path(exn.id, stream)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read(TAIL_WINDOW)
        except FileNotFoundError:
            return b""

    async def run_script(
        self, box_id: str, commands: list[str], env: dict[str, str]
    ) -> ScriptResult:
        """Run commands one by one (blueprint builds); stop at the first failing one."""
        output = bytearray()
        for command in commands:
            try:
                proc = await self.b.sandbox.spawn(box_id, command, env)
            except (OSError, DiskError) as exc:
                return ScriptResult(False, command, 127, f"cannot start command: {exc}")
            try:
                stdout, stderr = await _bounded_output(proc)
                returncode = await proc.wait()
            except asyncio.CancelledError:
                await self.b.sandbox.kill(proc)
                raise
            output += stdout + stderr
            del output[:-SCRIPT_KEEP]
            status = exit_status_of(returncode)
            if status != 0:
                return ScriptResult(False, command, status, output.decode("utf-8", "replace"))
        return ScriptResult(True, None, 0, output.decode("utf-8", "replace"))


async def _bounded_output(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    async def keep_tail(reader: asyncio.StreamReader | None) -> bytes:
        kept = bytearray()
        while reader is not None and (chunk := await reader.read(65536)):
            kept += chunk
            del kept[:-SCRIPT_KEEP]
        return bytes(kept)

    out, err = await asyncio.gather(keep_tail(proc.stdout), keep_tail(proc.stderr))
    return out, err


def read_tail(path: str, window: int) -> tuple[bytes, bool]:
    """The last `window` bytes of a file and whether the file is longer than that."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = max(0, size - window)
            f.seek(start)
            return f.read(), start > 0
    except FileNotFoundError:
        return b"", False
