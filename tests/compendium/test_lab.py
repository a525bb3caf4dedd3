"""`make lab`: JupyterLab starts on notebooks/ with the project's kernel (started and stopped here)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .helpers import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> dict | list | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


@pytest.mark.slow
def test_make_lab_serves_the_notebooks_with_the_project_kernel(tmp_path):
    venv = Path(sys.prefix)
    if not (venv / "bin" / "jupyter").exists():
        pytest.fail(f"jupyter is not installed in {venv}: pyproject.toml lists jupyterlab; run make install")
    port, token = _free_port(), "drugsim-test"
    # -o: the venv is this interpreter's and already installed; make must not reinstall it.
    command = ["make", "-s", "-C", str(REPO), f"VENV={venv}", "-o", f"{venv}/.installed", "lab",
               f"LAB_ARGS=--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"]
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path))
    with open(tmp_path / "lab.log", "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 90
        contents = None
        while time.monotonic() < deadline and contents is None:
            assert server.poll() is None, "make lab exited: " + (tmp_path / "lab.log").read_text()[-2000:]
            time.sleep(1)
            contents = _get(f"{base}/contents?token={token}")
        assert contents is not None, "JupyterLab did not answer within 90 s: " + (tmp_path / "lab.log").read_text()[-2000:]
        names = {item["name"] for item in contents["content"]}
        assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} <= names  # it serves notebooks/
        kernels = _get(f"{base}/kernelspecs?token={token}")
        assert kernels["default"] == "drugsim" and "drugsim" in kernels["kernelspecs"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # only the group this test started
            server.wait()
