"""Test helpers for HTTP/2: a minimal prior-knowledge client on one connection (the `h2` package,
many streams at once) and `local serve` run as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0


@dataclass
class Answer:
    """What one stream got: status and body once complete, or `reset` if the server reset it."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False
    reset: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class H2Client:
    """HTTP/2 with prior knowledge over one TCP connection; requests are streams sent at once."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.authority = parts.netloc
        self.token = token
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.answers: dict[int, Answer] = {}
        self.closed = False
        self._flush()

    def close(self) -> None:
        self.conn.close_connection()
        self._flush()
        self.sock.close()

    def send(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> int:
        """Open a stream with this request; returns its id (answers come with `wait`)."""
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        headers = [
            (":method", method),
            (":path", path),
            (":scheme", "http"),
            (":authority", self.authority),
            ("authorization", f"Bearer {self.token}"),
            ("content-type", "application/json"),
        ]
        if body is not None or raw is not None:
            headers.append(("content-length", str(len(data))))
        stream_id = self.conn.get_next_available_stream_id()
        self.answers[stream_id] = Answer()
        self.conn.send_headers(stream_id, headers, end_stream=not data)
        if data:  # small bodies only: they fit the initial flow-control window
            self.conn.send_data(stream_id, data, end_stream=True)
        self._flush()
        return stream_id

    def wait(self, *stream_ids: int) -> list[Answer]:
        """Read frames until every given stream is answered (or reset)."""
        deadline = time.monotonic() + DEADLINE
        while not all(self.done(sid) for sid in stream_ids):
            assert time.monotonic() < deadline, "no HTTP/2 answer in time"
            assert not self.closed, "the server closed the connection"
            self.pump()
        return [self.answers[sid] for sid in stream_ids]

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        (answer,) = self.wait(self.send(method, path, body))
        assert answer.status == 200, (method, path, answer.status, bytes(answer.body))
        return answer

    def done(self, stream_id: int) -> bool:
        answer = self.answers[stream_id]
        return answer.complete or answer.reset

    def pump(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            self._on(event)
        self._flush()

    def _on(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            answer = self.answers[event.stream_id]
            for name, value in event.headers:
                answer.headers[_text(name)] = _text(value)
            answer.status = int(answer.headers[":status"])
        elif isinstance(event, h2.events.DataReceived):
            self.answers[event.stream_id].body.extend(event.data)
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.answers[event.stream_id].complete = True
        elif isinstance(event, h2.events.StreamReset):
            self.answers[event.stream_id].reset = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.closed = True

    def _flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Served:
    url: str
    token: str
    process: subprocess.Popen[str]
    stderr: str = ""  # what the server wrote there, once it stopped


@contextmanager
def local_serve(data_dir: Path, token: str = "h2-test-token", cwd: Path = REPO) -> Iterator[Served]:
    """`rlstate local serve --port 0` in a subprocess (`data_dir` may be relative to `cwd`);
    stopped with SIGINT, which must end it as a signal does (exit 128 + 2)."""
    args = [sys.executable, "-m", "reconcile", "local", "serve", "--port", "0"]
    args += ["--data-dir", str(data_dir), "--token", token, "--transition-seconds", "0.05"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    served = Served("", token, process)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at (http://\S+) ", line)
        assert match, f"no startup line: {line!r}"
        served.url = match.group(1)
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, served.stderr = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 128 + signal.SIGINT, served.stderr
