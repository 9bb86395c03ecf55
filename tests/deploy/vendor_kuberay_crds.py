"""Regenerate data/kuberay-crd-schemas.json: the openAPIV3Schema of KubeRay's RayJob and RayCronJob CRDs, trimmed.

    python tests/deploy/vendor_kuberay_crds.py /path/to/kuberay-checkout v1.6.2

Reads ``ray-operator/config/crd/bases/ray.io_{rayjobs,raycronjobs}.yaml`` at the tag with ``git show`` (KubeRay,
Apache-2.0). Trimmed so the file stays small: descriptions are dropped, and every embedded Kubernetes
``PodTemplateSpec`` (head, worker and submitter templates: > 90 % of each CRD) becomes an open object, because the
test validates those with kubernetes-validate's own core/v1 schema instead. Nothing else is changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

KINDS = {"RayJob": "rayjobs", "RayCronJob": "raycronjobs"}
POD_TEMPLATE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                "x-glacierscale-pod-template": True}  # marks where the test applies the core/v1 PodTemplate schema


def _is_pod_template(node: dict[str, Any]) -> bool:
    spec = node.get("properties", {}).get("spec", {})
    return "metadata" in node.get("properties", {}) and "containers" in spec.get("properties", {})


def trim(node: Any) -> Any:
    """Return ``node`` without descriptions and with every PodTemplateSpec replaced by an open object."""
    if isinstance(node, dict):
        if _is_pod_template(node):
            return dict(POD_TEMPLATE)
        return {k: trim(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [trim(v) for v in node]
    return node


def main(checkout: str, tag: str) -> None:
    commit = subprocess.run(["git", "-C", checkout, "rev-list", "-n1", tag], capture_output=True, text=True,
                            check=True).stdout.strip()
    out: dict[str, Any] = {"source": "https://github.com/ray-project/kuberay ray-operator/config/crd/bases",
                           "version": tag, "commit": commit, "license": "Apache-2.0",
                           "trimmed": "descriptions dropped; PodTemplateSpec subtrees replaced (see vendor_kuberay_crds.py)",
                           "schemas": {}}
    for kind, plural in KINDS.items():
        text = subprocess.run(["git", "-C", checkout, "show", f"{tag}:ray-operator/config/crd/bases/ray.io_{plural}.yaml"],
                              capture_output=True, text=True, check=True).stdout
        crd = yaml.safe_load(text)
        (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
        out["schemas"][kind] = {"apiVersion": f"{crd['spec']['group']}/{version['name']}",
                                "openAPIV3Schema": trim(version["schema"]["openAPIV3Schema"])}
    path = Path(__file__).with_name("data") / "kuberay-crd-schemas.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
