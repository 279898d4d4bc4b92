"""``gunicorn "app:create_app()"`` on a free port of 127.0.0.1, for the tests that need a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def gunicorn_app(log_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve app.py with one gunicorn worker until the block ends; yields the base URL.

    Fails the test if the server doesn't answer ``/healthz`` within :data:`STARTUP_TIMEOUT`
    seconds, and always stops it (SIGTERM, then SIGKILL).
    """
    port = free_port()
    log_path = log_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-control-socket",  # several servers may run at once; don't share ~/.gunicorn
                "app:create_app()",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(f"{base_url}/healthz"):
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {STARTUP_TIMEOUT} s:\n{log_path.read_text()}")
            try:
                # Waiting on the process doubles as the pause between polls and notices a crash.
                server.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()}")
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
