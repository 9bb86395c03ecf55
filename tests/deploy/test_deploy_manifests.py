"""The shipped deployment files validate against the schemas their consumers use, and expose nothing.

- ray_cluster.yaml: Ray's own cluster-config schema (ray/autoscaler/ray-schema.json via Ray's validate_config).
- deploy/rayjob.yaml, deploy/raycronjob.yaml: KubeRay v1.6.2's CRD openAPIV3Schema (vendored, trimmed:
  data/kuberay-crd-schemas.json, see vendor_kuberay_crds.py), strict (unknown fields fail, as `kubectl apply
  --validate=strict` does), and every embedded Pod template against core/v1 with kubernetes-validate; plus the
  RayJob rules KubeRay's operator enforces (controllers/ray/utils/validation.go) that a schema cannot express.
- deploy/rbac.yaml, deploy/networkpolicy.yaml: kubernetes-validate (bundled Kubernetes schemas, offline), strict.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.33.0"  # the oldest Kubernetes the KubeRay 1.6 line supports that kubernetes-validate ships
SHIPPED = [ROOT / "ray_cluster.yaml", ROOT / "docs" / "deploy.md", *sorted(p for p in DEPLOY.rglob("*") if p.is_file())]


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _run_config() -> Any:
    from glacierscale.config import load_run_config

    return load_run_config(DEPLOY / "run-global.yaml")


# --- the Ray cluster launcher ------------------------------------------------------------------------------------

def _cluster() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())


def test_ray_cluster_yaml_passes_rays_own_schema_and_a_broken_copy_does_not() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = _cluster()
    validate_config(prepare_config(copy.deepcopy(config)))  # Ray's schema, with the launcher's defaults filled in
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu_worker"]["resources"]["gpu_node"] = "one"
    with pytest.raises(jsonschema.ValidationError, match="'one' is not of type 'integer'"):
        validate_config(prepare_config(broken))


def test_ray_cluster_yaml_is_locked_down() -> None:
    config = _cluster()
    nodes = config["available_node_types"]
    # one instance profile and one pre-made security group on every node (the launcher's own group would open SSH
    # to 0.0.0.0/0, and its default role is EC2 + S3 full access)
    assert {n["node_config"]["IamInstanceProfile"]["Name"] for n in nodes.values()} == {"glacierscale-ray-node"}
    assert all(n["node_config"]["SecurityGroupIds"] == ["sg-REPLACE-glacierscale-ray"] for n in nodes.values())
    assert all(n["node_config"]["MetadataOptions"]["HttpTokens"] == "required" for n in nodes.values())
    head_start = " ".join(config["head_start_ray_commands"])
    assert "RAY_AUTH_MODE=token ray start --head" in head_start
    assert "--dashboard-host=127.0.0.1" in head_start
    assert all(c.startswith("RAY_AUTH_MODE=token ") for c in config["worker_start_ray_commands"])
    setup = " ".join(config["setup_commands"])
    assert "secretsmanager get-secret-value" in setup and "~/.ray/auth_token" in setup and "umask 077" in setup
    assert '"torch==2.13.0"' in setup and '"glacierscale==0.1.0"' in setup and " -e " not in setup
    # placement: the run config's task resources only on CPU workers, its actor resources only on GPU workers
    cfg = _run_config()
    (task_res,) = cfg.stream.task_resources
    (actor_res,) = cfg.infer.resources
    assert [k for k, n in nodes.items() if task_res in n["resources"]] == ["cpu_worker"]
    assert [k for k, n in nodes.items() if actor_res in n["resources"]] == ["gpu_worker"]
    assert nodes["gpu_worker"]["resources"]["GPU"] == 1 and cfg.infer.num_gpus == 1
    assert nodes["gpu_worker"]["max_workers"] >= cfg.infer.num_actors
    assert nodes["head"]["resources"] == {"CPU": 0}
    assert config["max_workers"] == sum(n["max_workers"] for n in nodes.values())


def test_iam_policies_grant_the_two_buckets_and_read_only_imagery() -> None:
    node = json.loads((DEPLOY / "aws" / "node-policy.json").read_text())
    pod = json.loads((DEPLOY / "aws" / "pod-policy.json").read_text())
    s3 = [s for s in node["Statement"] if any(a.startswith("s3:") for a in _actions(s))]
    assert s3 == pod["Statement"]  # Kubernetes Pods get the same data access and nothing else
    writes = {a for s in s3 for a in _actions(s) if a in ("s3:PutObject", "s3:DeleteObject")}
    assert writes == {"s3:PutObject", "s3:DeleteObject"}
    written = {r for s in s3 if {"s3:PutObject", "s3:DeleteObject"} & set(_actions(s)) for r in s["Resource"]}
    assert written == {"arn:aws:s3:::glacierscale-archive/*", "arn:aws:s3:::glacierscale-cubes/*"}
    imagery = next(s for s in s3 if s["Sid"] == "PublicImageryReadOnly")
    assert set(imagery["Action"]) == {"s3:GetObject", "s3:ListBucket"}
    assert "arn:aws:s3:::usgs-landsat/*" in imagery["Resource"]  # requester-pays: the reader's account pays
    for s in node["Statement"]:
        assert "*" not in _actions(s) and not any(a.endswith(":*") for a in _actions(s)), s["Sid"]
        if set(_actions(s)) & {"ec2:TerminateInstances", "ec2:StopInstances"}:
            assert s["Condition"]["StringEquals"]["aws:ResourceTag/ray-cluster-name"] == "glacierscale"
    passrole = next(s for s in node["Statement"] if "iam:PassRole" in _actions(s))
    assert passrole["Resource"].endswith(":role/glacierscale-ray-node")
    cfg = _run_config()
    assert cfg.archive.startswith("s3://glacierscale-archive/") and cfg.cube_store.startswith("s3://glacierscale-cubes/")


def _actions(statement: dict[str, Any]) -> list[str]:
    a = statement["Action"]
    return [a] if isinstance(a, str) else list(a)


# --- KubeRay ----------------------------------------------------------------------------------------------------

def _strict(node: Any) -> Any:
    """Return a CRD schema in which objects with declared properties admit no others (kubectl's strict mode)."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _crd(kind: str) -> dict[str, Any]:
    vendored = json.loads((Path(__file__).with_name("data") / "kuberay-crd-schemas.json").read_text())
    assert vendored["version"] == "v1.6.2" and vendored["license"] == "Apache-2.0"
    return vendored["schemas"][kind]


def _pod_templates(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Return (path, template) for every Pod template in a KubeRay manifest (where the CRD embeds one)."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "template" and isinstance(v, dict) and "containers" in v.get("spec", {}):
                found.append((f"{path}.{k}", v))
            else:
                found += _pod_templates(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _pod_templates(v, f"{path}[{i}]")
    return found


def _validate_kuberay(doc: dict[str, Any]) -> None:
    import kubernetes_validate

    crd = _crd(doc["kind"])
    assert doc["apiVersion"] == crd["apiVersion"]
    jsonschema.validate(doc, _strict(crd["openAPIV3Schema"]))
    templates = _pod_templates(doc)
    assert templates
    for path, template in templates:
        pod_template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
        try:
            kubernetes_validate.validate(pod_template, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            raise AssertionError(f"{doc['kind']} {path}: {err}") from None


def _rayjob_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["jobTemplate"] if doc["kind"] == "RayCronJob" else doc["spec"]


@pytest.mark.parametrize("name", ["rayjob.yaml", "raycronjob.yaml"])
def test_kuberay_manifest_passes_the_crd_schema_and_the_operators_rules(name: str) -> None:
    (doc,) = _load_all(DEPLOY / name)
    _validate_kuberay(doc)
    spec = _rayjob_spec(doc)
    cluster = spec["rayClusterSpec"]
    # what KubeRay's validation.go refuses at admission (not expressible in the schema)
    assert cluster["authOptions"] == {"mode": "token", "secretName": "glacierscale-ray-token"}
    assert tuple(int(p) for p in cluster["rayVersion"].split(".")) >= (2, 52, 0)  # token auth needs Ray >= 2.52
    assert spec["activeDeadlineSeconds"] > 0 and spec["backoffLimit"] >= 0
    assert spec["submissionMode"] == "SidecarMode" and "submitterPodTemplate" not in spec
    assert cluster["headGroupSpec"]["template"]["spec"].get("restartPolicy", "Never") == "Never"
    assert cluster["enableInTreeAutoscaling"] is True
    for group in cluster["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], group["groupName"]
    assert "dashboard-host" not in cluster["headGroupSpec"]["rayStartParams"]  # KubeRay's pod-network default
    # identity and placement
    cfg = _run_config()
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    (task_res,) = cfg.stream.task_resources
    (actor_res,) = cfg.infer.resources
    assert [g for g, s in groups.items() if task_res in s.get("resources", {})] == ["cpu"]
    assert [g for g, s in groups.items() if actor_res in s.get("resources", {})] == ["gpu"]
    assert groups["gpu"]["maxReplicas"] >= cfg.infer.num_actors
    (gpu_container,) = groups["gpu"]["template"]["spec"]["containers"]
    assert gpu_container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    version = _package_version()
    for path, template in _pod_templates(doc):
        pod = template["spec"]
        assert pod["serviceAccountName"] == "glacierscale-ray", path
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0, path
        assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "glacierscale", path
        for c in pod["containers"]:
            assert c["image"] == f"ghcr.io/glacierscale/glacierscale:{version}", path
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, path
            assert "envFrom" not in c and not any(e["name"].startswith("AWS_SECRET") or e["name"] == "AWS_ACCESS_KEY_ID"
                                                  for e in c.get("env", [])), path


def test_raycronjob_runs_update_yearly_and_a_misspelt_field_is_refused() -> None:
    (cron,) = _load_all(DEPLOY / "raycronjob.yaml")
    (job,) = _load_all(DEPLOY / "rayjob.yaml")
    assert cron["spec"]["schedule"] == "0 3 1 11 *"  # minute hour day-of-month month day-of-week: 1 Nov 03:00
    template = cron["spec"]["jobTemplate"]
    assert "glacierscale update /tmp/update.yaml" in template["entrypoint"]
    assert "glacierscale run /config/run-global.yaml" in job["spec"]["entrypoint"]
    assert template["rayClusterSpec"] == job["spec"]["rayClusterSpec"]  # one cluster design for run and update
    broken = copy.deepcopy(cron)
    broken["spec"]["jobTemplate"]["rayClusterSpec"]["authOption"] = broken["spec"]["jobTemplate"]["rayClusterSpec"].pop(
        "authOptions")
    with pytest.raises(jsonschema.ValidationError, match="'authOption' was unexpected"):
        _validate_kuberay(broken)
    broken = copy.deepcopy(job)
    broken["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(AssertionError, match="'securityContex' was unexpected"):
        _validate_kuberay(broken)


def test_rbac_and_networkpolicy_pass_kubernetes_validate() -> None:
    import kubernetes_validate

    kinds = []
    for name in ("rbac.yaml", "networkpolicy.yaml"):
        for doc in _load_all(DEPLOY / name):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            kinds.append(doc["kind"])
    assert sorted(kinds) == ["NetworkPolicy", "Role", "RoleBinding", "ServiceAccount", "ServiceAccount"]
    rbac = {(d["kind"], d["metadata"]["name"]): d for d in _load_all(DEPLOY / "rbac.yaml")}
    role = rbac[("Role", "glacierscale-submitter")]
    secret_rules = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secret_rules == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["glacierscale-ray-token"],
                             "verbs": ["get"]}]  # the Ray token only, read only
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in role["rules"])
    ray_sa = rbac[("ServiceAccount", "glacierscale-ray")]
    assert ray_sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/glacierscale-ray-pod")
    (policy,) = _load_all(DEPLOY / "networkpolicy.yaml")
    ingress = policy["spec"]["ingress"]
    from_outside = [r for r in ingress if "namespaceSelector" in r["from"][0]]
    assert [p["port"] for r in from_outside for p in r["ports"]] == [8265]  # the operator reaches the dashboard only


# --- the image ----------------------------------------------------------------------------------------------------

def _package_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_dockerfile_pins_its_base_and_torch_installs_the_wheel_by_version_and_drops_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^ARG RAY_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"rayproject/ray:2\.60\.0-py311-cu\d+|rayproject/ray@sha256:[0-9a-f]{64}", base[1])
    assert re.search(r"^FROM \$\{RAY_IMAGE\}$", text, re.M)
    assert re.search(r"^ARG TORCH_VERSION=2\.13\.0$", text, re.M) and '"torch==${TORCH_VERSION}"' in text
    assert f"ARG VERSION={_package_version()}" in text and '"glacierscale==${VERSION}"' in text
    assert not re.search(r"pip install[^\n]*\s-e\s", text)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


# --- (c) what no shipped file may contain ------------------------------------------------------------------------

DASHBOARD_ANY = re.compile(r"dashboard[-_]host[\"']?\s*[=:]\s*[\"']?0\.0\.0\.0")
TOKEN_AUTH = re.compile(r"RAY_AUTH_MODE=token|mode:\s*token")
LATEST = re.compile(r":latest\b")
CREDENTIALS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key assignment": re.compile(r"(?i)aws_secret_access_key[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+]{30,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Ray token value": re.compile(r"RAY_AUTH_TOKEN[\"']?\s*[=:]\s*[\"']?[0-9a-f]{16,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "password in a URL": re.compile(r"://[^/\s:@]+:[^/\s@]+@"),
}


def exposure_findings(text: str) -> list[str]:
    """Return what makes ``text`` unsafe to ship: an open dashboard without token auth, :latest, a credential."""
    found = []
    if DASHBOARD_ANY.search(text) and not TOKEN_AUTH.search(text):
        found.append("dashboard on 0.0.0.0 without token auth")
    if LATEST.search(text):
        found.append("an image by :latest")
    found += [name for name, pattern in CREDENTIALS.items() if pattern.search(text)]
    return found


def test_the_checker_finds_what_the_old_files_had() -> None:
    old = ("rayStartParams: {dashboard-host: \"0.0.0.0\"}\nimage: ghcr.io/glacierscale/glacierscale:latest\n"
           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nid AKIAIOSFODNN7EXAMPLE\n")
    assert exposure_findings(old) == ["dashboard on 0.0.0.0 without token auth", "an image by :latest",
                                      "AWS access key id", "AWS secret key assignment"]
    assert exposure_findings("ray start --head --dashboard-host=0.0.0.0\n") == ["dashboard on 0.0.0.0 without token auth"]
    assert exposure_findings("RAY_AUTH_MODE=token ray start --head --dashboard-host=0.0.0.0\n") == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shipped_file_exposes_the_dashboard_uses_latest_or_embeds_a_credential(path: Path) -> None:
    assert exposure_findings(path.read_text()) == []


def test_bootstrap_refuses_to_open_ssh_to_the_internet(tmp_path: Path) -> None:
    import subprocess

    script = DEPLOY / "aws" / "bootstrap.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    # a fake `aws` on PATH records any call: the refusal must come before the first one
    (tmp_path / "aws").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/calls\n")
    (tmp_path / "aws").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "VPC_ID": "vpc-0", "ADMIN_CIDR": "0.0.0.0/0"}
    run = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "refusing ADMIN_CIDR=0.0.0.0/0: SSH must not be open to the internet" in run.stderr
    assert not (tmp_path / "calls").exists()
    text = script.read_text()
    assert "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=$ADMIN_CIDR" in text
    assert "IpProtocol=-1,UserIdGroupPairs=[{GroupId=$sg}]" in text  # every other port: the group's own members
