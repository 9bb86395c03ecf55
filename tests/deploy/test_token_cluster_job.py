"""The cluster path as deployed, on one machine: token auth, `ray job submit`, the archive on S3, placement.

A head (2 CPUs, custom resource ``cpu_node``) and a second node standing in for a GPU worker (1 CPU, custom
resource ``gpu_node``) run with ``RAY_AUTH_MODE=token`` on loopback; a moto S3 server on loopback holds the
archive, cubes and run state. The nodes carry S3 credentials in their environment, as an instance profile
would supply them; the submitter carries only the Ray token. The credentials are random per run, so a grep for
them finds only real leaks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from token_cluster import TokenCluster, fake_aws_credentials, moto_server, token_cluster

from glacierscale.simulate import SceneSet

pytestmark = pytest.mark.slow

BUCKET = "gsdeploy"
ARCHIVE = f"s3://{BUCKET}/archive"
PLACEMENT = {"stream": {"task_resources": {"cpu_node": 0.01}, "task_cpus": 0.5},
             "infer": {"resources": {"gpu_node": 0.01}, "num_cpus": 0.5, "num_actors": 1}}


@dataclass
class Submitted:
    cluster: TokenCluster
    credentials: dict[str, str]
    endpoint: str
    job: subprocess.CompletedProcess[str]
    submission_id: str
    config: dict[str, Any]
    workdir: Path


def _config(scene_set: SceneSet, **where: str) -> dict[str, Any]:
    return {"name": "deploy-token", "catalog": {"url": str(scene_set.root)},
            "inventory": str(scene_set.root / "inventory.gpkg"), "years": "2022",
            "grid": {"resolution": 20, "tile_size": 128, "margin_m": 0, "overlap_px": 0}, **where}


@pytest.fixture(scope="module")
def submitted(scene_set: SceneSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Submitted]:
    """Submit `glacierscale run` (archive on S3) to the token cluster with `ray job submit`; keep the cluster up."""
    work = tmp_path_factory.mktemp("deploy-job")
    creds = fake_aws_credentials()
    with moto_server(creds, BUCKET) as endpoint:
        node_env = {**creds, "AWS_ENDPOINT_URL": endpoint}
        with token_cluster(node_env, head_resources={"cpu_node": 1}, gpu_resources={"gpu_node": 1}) as cluster:
            cfg = {**_config(scene_set, archive=ARCHIVE, cube_store=f"s3://{BUCKET}/cubes",
                             state_dir=f"s3://{BUCKET}/state"), **PLACEMENT}
            (work / "run.yaml").write_text(yaml.safe_dump(cfg))
            submission_id = f"deploy-token-{os.getpid()}-{int(time.time())}"
            job = subprocess.run(["ray", "job", "submit", "--address", cluster.dashboard, "--submission-id",
                                  submission_id, "--", "glacierscale", "run", str(work / "run.yaml"), "--quiet"],
                                 env=cluster.client_env(token=cluster.token), capture_output=True, text=True,
                                 timeout=600)
            yield Submitted(cluster, creds, endpoint, job, submission_id, cfg, work)


def test_a_submit_without_the_token_or_with_a_wrong_one_is_refused(submitted: Submitted) -> None:
    cluster = submitted.cluster
    before = len(cluster.api("/api/jobs/"))
    for token, reason in ((None, "Missing authentication token"), ("0" * 64, "Invalid authentication token")):
        refused = subprocess.run(["ray", "job", "submit", "--address", cluster.dashboard, "--", "echo", "hi"],
                                 env=cluster.client_env(token=token), capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0
        assert reason in refused.stderr, refused.stderr[-2000:]
    assert len(cluster.api("/api/jobs/")) == before  # nothing was queued
    with pytest.raises(urllib.error.HTTPError) as err:  # the dashboard's HTTP API itself, without the header
        urllib.request.urlopen(cluster.dashboard + "/api/jobs/", timeout=30)
    assert err.value.code == 401


def test_the_job_submitted_with_the_token_succeeds_and_its_s3_archive_equals_a_local_run(
        submitted: Submitted, scene_set: SceneSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glacierscale.archive import open_archive

    job = submitted.job
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert f"Job '{submitted.submission_id}' succeeded" in job.stdout + job.stderr
    assert submitted.cluster.api(f"/api/jobs/{submitted.submission_id}")["status"] == "SUCCEEDED"
    # the same config on a plain local Ray (placement resources dropped: a local Ray has no cpu_node/gpu_node)
    local = _config(scene_set, archive=str(tmp_path / "archive"), cube_store=str(tmp_path / "cubes"))
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(local))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "AWS_"))}
    env.update(RAY_AUTH_MODE="disabled", PATH=str(Path(sys.executable).parent) + os.pathsep + env["PATH"])
    ref = subprocess.run(["glacierscale", "run", str(tmp_path / "local.yaml"), "--quiet"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stdout[-3000:] + ref.stderr[-3000:]
    for k, v in {**submitted.credentials, "AWS_ENDPOINT_URL": submitted.endpoint}.items():
        monkeypatch.setenv(k, v)
    on_s3 = open_archive(ARCHIVE).table().sort_values(["glacier_id", "year"]).reset_index(drop=True)
    local_table = open_archive(str(tmp_path / "archive")).table().sort_values(["glacier_id", "year"]).reset_index(drop=True)
    assert len(on_s3) > 0 and set(on_s3["year"]) == {2022}
    assert list(on_s3["glacier_id"]) == list(local_table["glacier_id"])
    np.testing.assert_allclose(on_s3["area_km2"], local_table["area_km2"], rtol=1e-9)
    np.testing.assert_allclose(on_s3["observed_fraction"], local_table["observed_fraction"], rtol=1e-9)
    assert list(on_s3["quality"]) == list(local_table["quality"])


def test_inference_actors_run_only_where_the_gpu_resource_is_and_cube_tasks_elsewhere(submitted: Submitted) -> None:
    assert submitted.job.returncode == 0, submitted.job.stderr[-2000:]
    cluster = submitted.cluster
    actors = [a for a in cluster.state("actors") if a["class_name"] == "InferenceWorker"]
    assert actors, "no inference actor was recorded"
    assert {a["node_id"] for a in actors} == {cluster.nodes["gpu"]}
    tasks = cluster.state("tasks")
    placed: dict[str, set[str]] = {}
    # an item the archive does not hold runs search and cube in one task (select_cube_task); held items whose
    # cube must be rebuilt run select_task and cube_task apart
    stages = ("select_task", "cube_task", "select_cube_task", "reduce_stage_task")
    for t in tasks:
        stage = t["name"].rsplit(".", 1)[-1]
        if stage in stages and t.get("node_id"):
            placed.setdefault(stage, set()).add(t["node_id"])
    assert "reduce_stage_task" in placed and ({"select_cube_task"} <= set(placed)
                                              or {"select_task", "cube_task"} <= set(placed)), placed
    assert all(nodes == {cluster.nodes["head"]} for nodes in placed.values()), placed


def test_no_credential_in_the_archive_state_ledger_job_logs_or_metadata(submitted: Submitted) -> None:
    import boto3

    assert submitted.job.returncode == 0, submitted.job.stderr[-2000:]
    secrets_ = [submitted.credentials["AWS_ACCESS_KEY_ID"], submitted.credentials["AWS_SECRET_ACCESS_KEY"]]
    cluster = submitted.cluster
    s3 = boto3.client("s3", endpoint_url=submitted.endpoint,
                      aws_access_key_id=submitted.credentials["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=submitted.credentials["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])]
    assert any(k.startswith("archive/") for k in keys) and any("ledger" in k for k in keys), keys[:20]
    assert any(k.startswith("cubes/") for k in keys) and any(k.startswith("state/") for k in keys)
    leaks = [k for k in keys if any(s.encode() in s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for s in secrets_)]
    assert leaks == []  # archive (incl. runs/ records), cubes, staging, selections, ledger
    job = cluster.api(f"/api/jobs/{submitted.submission_id}")
    logs = cluster.api(f"/api/jobs/{submitted.submission_id}/logs")["logs"]
    assert "archive snapshot" in logs and job["status"] == "SUCCEEDED"  # the logs are the run's own output
    texts = {"job metadata": str(job), "job logs": logs, "submit output": submitted.job.stdout + submitted.job.stderr,
             "run config": (submitted.workdir / "run.yaml").read_text()}
    for name, text in texts.items():
        for s in [*secrets_, cluster.token]:
            assert s not in text, f"a credential is in the {name}"
    # the Ray session logs of both nodes (raylet, GCS, dashboard, workers, the driver's own log)
    assert cluster.session_dirs
    files = [f for d in cluster.session_dirs for f in (d / "logs").rglob("*") if f.is_file()]
    assert len(files) > 10
    leaking = [str(f) for f in files if any(s.encode() in f.read_bytes() for s in secrets_)]
    assert leaking == []
