"""The DealWatch web app (search_ui) served by uvicorn on a free loopback port, for the
search and export benchmarks. It runs in its own process so its memory can be sampled and
its CPU is not the benchmark's; it reads the archive under the given index prefix."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from demo_sites.loopback import free_port
from dealwatch.settings import REPO_ROOT


class AppServer:
    def __init__(self, index_prefix: str, host: str = "127.0.0.1"):
        self.index_prefix = index_prefix
        self.host = host
        self.port = free_port(host)
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--factory", "search_ui.app:create_app", "--host", self.host,
                "--port", str(self.port), "--log-level", "warning", "--no-access-log"]

    def __enter__(self) -> "AppServer":
        env = {**os.environ, "DEALWATCH_INDEX_PREFIX": self.index_prefix, "DEALWATCH_UI_TOKEN": ""}
        self.proc = subprocess.Popen(self.command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited at start: {self.proc.stderr.read().decode()[-1500:]}")
            try:
                if httpx.get(f"{self.base_url}/api/search?size=1&relevant=0", timeout=10).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("the app did not answer within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
