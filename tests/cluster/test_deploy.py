"""The files of deploy/ are valid for the tools that read them: the Serve configs (standalone
and inside the KubeRay RayService) against Ray Serve's own schema, with args that
:func:`ocrgate.cluster.serve_app.build` accepts and deployment names the application has; the
``ray up`` config against the cluster launcher's JSON schema. (No Kubernetes or SSH machines
here: applying them is left to a real cluster.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cluster.conftest import require_ray
from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def _yaml(path: Path) -> list[dict]:
    yaml = pytest.importorskip("yaml")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _serve_configs() -> list[dict]:
    yaml = pytest.importorskip("yaml")
    configs = _yaml(DEPLOY / "serve-config.yaml")
    for doc in _yaml(DEPLOY / "kuberay" / "rayservice.yaml"):
        if doc["kind"] == "RayService":
            configs.append(yaml.safe_load(doc["spec"]["serveConfigV2"]))
    return configs


def test_serve_configs_match_serves_schema_and_the_application() -> None:
    require_ray()
    from ray.serve.schema import ServeDeploySchema

    from ocrgate.cluster.options import ClusterOptions
    from ocrgate.cluster.serve_app import ENGINE_PREFIX, INGRESS, build

    configs = _serve_configs()
    assert len(configs) == 2
    for config in configs:
        schema = ServeDeploySchema.model_validate(config)
        [app] = schema.applications
        assert app.import_path == f"{build.__module__}:{build.__name__}"
        args = dict(app.args)
        args.pop("config")
        ClusterOptions.from_args(args)  # every other arg is a cluster option
        for deployment in app.deployments:
            assert deployment.name in (INGRESS, ENGINE_PREFIX + "embedded")


def test_ray_up_config_matches_the_launchers_schema() -> None:
    require_ray()
    jsonschema = pytest.importorskip("jsonschema")
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    [config] = _yaml(DEPLOY / "ray-up" / "cluster.yaml")
    jsonschema.validate(config, schema)
    assert any("ocrgate[ray]" in c for c in config["setup_commands"])


def test_rayservice_shares_the_state_every_pod_needs() -> None:
    docs = {doc["kind"]: doc for doc in _yaml(DEPLOY / "kuberay" / "rayservice.yaml")}
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    cluster = docs["RayService"]["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]] + cluster["workerGroupSpecs"]
    for group in pods:
        [container] = group["template"]["spec"]["containers"]
        env = {e["name"] for e in container["env"]}
        assert {"OCRGATE_DATA_DIR", "OCRGATE_DATABASE_URL", "OCRGATE_SECRET"} <= env
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/data"}
    assert {g["groupName"] for g in cluster["workerGroupSpecs"]} == {"cpu", "gpu"}
