"""A token-authenticated Ray cluster and a moto S3 server on loopback, started by a test and stopped by pid.

Every process `ray start` spawns (GCS, raylet, dashboard, agents, workers) inherits a marker variable with a
value unique to the cluster; stopping kills exactly the processes that carry it (read from /proc), so other
Ray clusters on the machine, other engineers' tests included, are never touched (`ray stop` would stop them all).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glacierscale.catalog.server import free_port

MARK = "GLACIERSCALE_TEST_CLUSTER"
BIN = Path(sys.executable).parent


def fake_aws_credentials() -> dict[str, str]:
    """Return credentials unique to this run (moto accepts any), so a grep for them finds only real leaks."""
    upper = string.ascii_uppercase + string.digits
    return {"AWS_ACCESS_KEY_ID": "AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
            "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30)[:40],
            "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def moto_server(credentials: dict[str, str], bucket: str) -> Iterator[str]:
    """Yield the endpoint of a fresh moto S3 server on loopback holding ``bucket``; stop it by pid."""
    import boto3

    port = free_port()
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                     region_name="us-east-1").create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class TokenCluster:
    """A running local cluster: its dashboard URL, token, node environment and node ids by role."""

    dashboard: str
    gcs_port: int
    token: str
    node_env: dict[str, str]
    nodes: dict[str, str] = field(default_factory=dict)  # "head" / "gpu" -> Ray node id
    session_dirs: list[Path] = field(default_factory=list)
    client_home: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="ray-client-home-"))

    def client_env(self, *, token: str | None) -> dict[str, str]:
        """Return the environment of a person submitting jobs: the token (or none) and nothing else of the nodes."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "AWS_"))}
        env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
        env["HOME"] = self.client_home  # empty: no ~/.ray/auth_token of anyone to fall back on
        if token is not None:  # without a token: a plain client (auth mode unset), as anyone on the network
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
        return env

    def api(self, path: str) -> Any:
        """Return the JSON of a dashboard HTTP API call made with the token."""
        req = urllib.request.Request(self.dashboard + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def state(self, kind: str) -> list[dict[str, Any]]:
        """Return every record of a state API listing (actors, tasks, nodes) with details."""
        return self.api(f"/api/v0/{kind}?detail=1&limit=10000")["data"]["result"]["result"]


def _ray_start(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "ray"), "start", *args, "--disable-usage-stats",
                    f"--dashboard-agent-listen-port={free_port()}"],  # the default 52365 is shared by every node
                   env=env, check=True, capture_output=True, timeout=180)


@contextlib.contextmanager
def token_cluster(extra_env: dict[str, str], *, head_cpus: int = 2, head_resources: dict[str, float],
                  gpu_cpus: int = 1, gpu_resources: dict[str, float]) -> Iterator[TokenCluster]:
    """Start a head and a second node ("gpu", offering ``gpu_resources``) with token auth on loopback."""
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(extra_env)
    env.update({"PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""), "RAY_AUTH_MODE": "token",
                "RAY_AUTH_TOKEN": token, MARK: secrets.token_hex(8)})
    gcs, dash = free_port(), free_port()
    cluster = TokenCluster(f"http://127.0.0.1:{dash}", gcs, token, env)
    try:
        _ray_start(["--head", "--node-ip-address=127.0.0.1", f"--port={gcs}", "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={dash}", f"--ray-client-server-port={free_port()}", f"--num-cpus={head_cpus}",
                    f"--resources={json.dumps(head_resources)}", "--include-dashboard=true"], env)
        _ray_start([f"--address=127.0.0.1:{gcs}", "--node-ip-address=127.0.0.1", f"--num-cpus={gpu_cpus}",
                    f"--resources={json.dumps(gpu_resources)}"], env)
        deadline = time.monotonic() + 60
        while len(cluster.nodes) < 2:
            alive = [n for n in _nodes_or_none(cluster) if n["state"] == "ALIVE"]
            for n in alive:
                role = "gpu" if set(gpu_resources) <= set(n["resources_total"]) else "head"
                cluster.nodes[role] = n["node_id"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"the two nodes did not come up: {cluster.nodes}")
            time.sleep(0.5)
        cluster.session_dirs = _session_dirs(env[MARK])
        yield cluster
    finally:
        stop_marked(env[MARK], gcs)
        shutil.rmtree(cluster.client_home, ignore_errors=True)


def _nodes_or_none(cluster: TokenCluster) -> list[dict[str, Any]]:
    try:
        return cluster.state("nodes")
    except OSError:
        return []


def _marked_processes(mark: str) -> list[Any]:
    import psutil

    found = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if p.pid != os.getpid() and p.environ().get(MARK) == mark:
                found.append(p)
    return found


def _session_dirs(mark: str) -> list[Path]:
    """Return the Ray session folders (logs) of the cluster's processes, read from their command lines."""
    import re

    dirs = set()
    for p in _marked_processes(mark):
        with contextlib.suppress(Exception):
            for arg in p.cmdline():
                dirs.update(re.findall(r"(/[^=\s]*/session_[^/\s]+)", arg))
    return sorted(Path(d) for d in dirs if Path(d).is_dir() and Path(d).name != "session_latest")


def stop_marked(mark: str, gcs_port: int) -> None:
    """Kill every process of the cluster carrying ``mark`` (and forget it as the machine's current cluster)."""
    import psutil

    procs = _marked_processes(mark)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=15)
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    with contextlib.suppress(OSError):
        if current.read_text().strip().endswith(f":{gcs_port}"):
            current.unlink()
