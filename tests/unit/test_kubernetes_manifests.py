"""deploy/kubernetes is valid Kubernetes and agrees with the code, the container stack and the docs.

No cluster runs here, so the kustomization is rendered in Python (resources, nested
kustomizations, configMapGenerator with kustomize's content-hash suffixes and name references,
images, namespace) and every object is validated against the JSON schemas of a pinned Kubernetes
version, bundled with the ``kubernetes-validate`` package (offline), in strict mode: an unknown field
fails. Where a ``kubectl`` with its built-in kustomize is installed, its rendering must equal ours.

On top of the schemas: every container has resources, a restricted securityContext and (long-running
ones) start-up, liveness and readiness probes; every Secret reference is a documented secret; the
live.toml and jobs.toml ConfigMaps pass the product's own loaders; the NetworkPolicies select
existing pods and allow exactly the flows the stack needs; the service runs two replicas behind a
PodDisruptionBudget; the probe and backup scripts work.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOC = ROOT / "docs" / "deployment.md"
# The Kubernetes version the manifests target (schemas bundled with kubernetes-validate), and the
# newest one the package bundles, so that an API removed since is noticed.
KUBERNETES_VERSION = "1.32.0"
NEWEST_CHECKED = "1.37.0"
NAMESPACE = "tradepulse"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "CustomResourceDefinition", "PriorityClass"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}

# The secrets docs/deployment.md tells operators to create, with their keys.
SECRETS = {
    "tradepulse-api": {"read_tokens", "operate_tokens", "approve_tokens"},
    "tradepulse-exchange": {"api_key", "api_secret"},
    "tradepulse-postgres": {"password"},
    "tradepulse-webhooks": {"service_url", "alertmanager_url", "jobs_url"},
    "tradepulse-monitoring": {"prometheus_read_token", "grafana_admin_password"},
    "tradepulse-research": {"jupyter_token", "api_read_token"},
}


# -- a kustomize renderer for the features the manifests use ---------------------------------------

_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images"}


def _kustomize_hash(data: dict[str, str]) -> str:
    """kustomize's name suffix of a generated ConfigMap: its data hashed as kustomize 5 does.

    The JSON of ``{"data", "kind", "name"}`` as Go's encoder writes it (sorted keys, HTML characters
    escaped), with the name empty at generation time; SHA-256; the first ten hex digits with the
    vowels and look-alike digits replaced.
    """
    encoded = json.dumps({"data": data, "kind": "ConfigMap", "name": ""}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        encoded = encoded.replace(char, escape)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:10].translate(str.maketrans("013ae", "ghkmt"))


def _pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind in WORKLOADS or kind == "Job":
        return obj["spec"]["template"]["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind == "Pod":
        return obj["spec"]
    return None


def _pod_labels(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"].get("labels", {})
    return obj["spec"]["template"]["metadata"].get("labels", {})


def _containers(spec: dict, *, init: bool = True) -> list[dict]:
    return list(spec.get("containers", [])) + (list(spec.get("initContainers", [])) if init else [])


def _rename_config_maps(obj: dict, names: dict[str, str]) -> None:
    spec = _pod_spec(obj)
    if spec is None:
        return
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            volume["configMap"]["name"] = names.get(volume["configMap"]["name"], volume["configMap"]["name"])
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                source["configMap"]["name"] = names.get(source["configMap"]["name"], source["configMap"]["name"])
    for container in _containers(spec):
        for entry in container.get("envFrom", []):
            if "configMapRef" in entry:
                entry["configMapRef"]["name"] = names.get(entry["configMapRef"]["name"], entry["configMapRef"]["name"])
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                ref["name"] = names.get(ref["name"], ref["name"])


def _set_images(obj: dict, images: list[dict]) -> None:
    spec = _pod_spec(obj)
    if spec is None:
        return
    for container in _containers(spec):
        name, _, tag = container["image"].partition(":")
        for image in images:
            if image["name"] == name:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def _build(directory: Path, root: Path | None = None) -> tuple[list[dict], dict[str, str]]:
    """Objects and ``{generated name: name with its hash}`` of the kustomization in ``directory``."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - _KUSTOMIZATION_KEYS
    assert not unknown, f"{directory}/kustomization.yaml uses {unknown}: teach the test's renderer first"
    objects: list[dict] = []
    names: dict[str, str] = {}
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            more, generated = _build(path)
            objects += more
            names.update(generated)
        else:
            # kustomize loads files only from inside the kustomization's own folder.
            assert path.is_relative_to(directory.resolve()), f"{entry} is outside {directory}"
            objects += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    for generator in kustomization.get("configMapGenerator", []):
        data = {}
        for item in generator["files"]:
            key, _, source = item.rpartition("=") if "=" in item else (Path(item).name, "", item)
            path = (directory / source).resolve()
            assert path.is_relative_to(directory.resolve()), f"{source} is outside {directory}: kustomize refuses it"
            data[key] = path.read_text(encoding="utf-8")
        name = f"{generator['name']}-{_kustomize_hash(data)}"
        names[generator["name"]] = name
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
    for obj in objects:
        _rename_config_maps(obj, names)
        _set_images(obj, kustomization.get("images", []))
        if "namespace" in kustomization and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects, names


_RENDERED: list[dict] | None = None


def _rendered() -> list[dict]:
    global _RENDERED
    if _RENDERED is None:
        _RENDERED = _build(KUBERNETES)[0]
    return copy.deepcopy(_RENDERED)


def _key(obj: dict) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _by_kind(kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in _rendered() if obj["kind"] == kind}


def _workloads() -> list[dict]:
    return [obj for obj in _rendered() if _pod_spec(obj) is not None]


def _config_map(prefix: str) -> dict:
    (found,) = [obj for obj in _rendered() if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].rsplit("-", 1)[0] == prefix]
    return found


def _container(workload: str, name: str, kind: str = "StatefulSet") -> dict:
    spec = _pod_spec(_by_kind(kind)[workload])
    (found,) = [container for container in _containers(spec) if container["name"] == name]
    return found


# -- rendering and schemas -------------------------------------------------------------------------


def test_the_kustomization_renders_every_part_of_the_stack():
    objects = _rendered()
    keys = [_key(obj) for obj in objects]
    assert len(keys) == len(set(keys)), "two objects with the same kind and name"
    assert {obj["metadata"].get("namespace") for obj in objects if obj["kind"] != "Namespace"} == {NAMESPACE}
    assert [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Namespace"] == [NAMESPACE]
    workloads = {(obj["kind"], obj["metadata"]["name"]) for obj in _workloads()}
    assert workloads == {("StatefulSet", "tradepulse"), ("StatefulSet", "postgres"), ("Deployment", "tradepulse-scheduler"),
                         ("Deployment", "tradepulse-jupyterlab"), ("Deployment", "tradepulse-dashboard"),
                         ("Deployment", "prometheus"), ("Deployment", "alertmanager"), ("Deployment", "grafana"),
                         ("CronJob", "tradepulse-backup")}
    assert not [obj for obj in objects if obj["kind"] == "Secret"], "secrets are created by operators, never committed"
    resources = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]
    assert "secret.example.yaml" not in resources
    # Every manifest in the folder is part of the kustomization (none forgotten), but the example.
    listed = {entry for entry in resources if entry.endswith(".yaml")}
    assert listed == {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}


def test_the_monitoring_config_maps_are_the_container_stacks_own_files():
    """One source of truth: the ConfigMaps hold deploy/prometheus, deploy/alertmanager and deploy/grafana as they are."""
    expected = {
        "prometheus-config": {"prometheus.yml": DEPLOY / "prometheus" / "prometheus.yml", "rules.yml": DEPLOY / "prometheus" / "rules.yml"},
        "alertmanager-config": {"alertmanager.yml": DEPLOY / "alertmanager" / "alertmanager.yml"},
        "grafana-datasources": {"prometheus.yml": DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"},
        "grafana-dashboard-providers": {"tradepulse.yml": DEPLOY / "grafana" / "provisioning" / "dashboards" / "tradepulse.yml"},
        "grafana-dashboards": {"tradepulse.json": DEPLOY / "grafana" / "dashboards" / "tradepulse.json"},
        "tradepulse-config": {"live.toml": KUBERNETES / "live.toml"},
        "tradepulse-jobs": {"jobs.toml": KUBERNETES / "jobs.toml"},
        "tradepulse-probe": {"probe.py": KUBERNETES / "probe.py"},
        "tradepulse-backup-scripts": {"backup_store.py": KUBERNETES / "backup_store.py"},
    }
    for name, files in expected.items():
        config_map = _config_map(name)
        assert config_map["data"] == {key: path.read_text(encoding="utf-8") for key, path in files.items()}, name
        # The hash suffix changes with the content, so a changed file rolls the pods that mount it.
        assert config_map["metadata"]["name"] == f"{name}-{_kustomize_hash(config_map['data'])}"


def test_the_hash_suffix_is_kustomizes():
    # kustomize 5's suffix for a ConfigMap holding "groups: []\n" under the key rules.yml.
    assert _kustomize_hash({"rules.yml": "groups: []\n"}) == "8945f48fb7"


def test_kubectl_kustomize_renders_the_same_objects():
    """The renderer above is kustomize's behaviour for these files: kubectl's built-in kustomize agrees."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl here: the Python rendering alone is checked")
    result = subprocess.run([kubectl, "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    theirs = {_key(obj): obj for obj in yaml.safe_load_all(result.stdout) if obj}
    ours = {_key(obj): obj for obj in _rendered()}
    assert set(theirs) == set(ours)
    for key, obj in ours.items():
        assert theirs[key] == obj, f"{key} differs from kubectl kustomize"


def _validate(obj: dict, version: str) -> None:
    from kubernetes_validate import utils

    utils.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, NEWEST_CHECKED])
def test_every_object_is_valid_against_the_kubernetes_schemas(version):
    from kubernetes_validate.utils import ValidationError

    failures = []
    for obj in _rendered():
        try:
            _validate(obj, version)
        except ValidationError as error:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {'.'.join(map(str, error.path))}")
    assert failures == []


def test_the_schema_check_is_strict():
    """Broken copies fail: an unknown field (a typo), a wrong type, a missing required field."""
    from kubernetes_validate.utils import ValidationError

    statefulset = _by_kind("StatefulSet")["tradepulse"]
    _validate(statefulset, KUBERNETES_VERSION)
    typo = copy.deepcopy(statefulset)
    typo["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = typo["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    wrong_type = copy.deepcopy(statefulset)
    wrong_type["spec"]["replicas"] = "two"
    missing = copy.deepcopy(statefulset)
    del missing["spec"]["template"]["spec"]["containers"][0]["name"]
    for broken in (typo, wrong_type, missing):
        with pytest.raises(ValidationError):
            _validate(broken, KUBERNETES_VERSION)


# -- containers ------------------------------------------------------------------------------------


def test_every_container_has_resources_and_a_restricted_security_context():
    for workload in _workloads():
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = _pod_spec(workload)
        pod = spec.get("securityContext", {})
        assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}, name
        assert spec.get("automountServiceAccountToken") is False, f"{name} mounts an API token it does not need"
        for container in _containers(spec):
            where = f"{name} {container['name']}"
            for kind in ("requests", "limits"):
                assert set(container.get("resources", {}).get(kind, {})) >= {"cpu", "memory"}, f"{where}: resources.{kind}"
            context = container.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("capabilities") == {"drop": ["ALL"]}, where
            assert context.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            assert context.get("runAsUser", pod.get("runAsUser", 0)) != 0, where
            assert ":" in container["image"] and not container["image"].endswith(":latest"), f"{where}: pin the image"


def test_every_long_running_container_has_startup_liveness_and_readiness_probes():
    for workload in _workloads():
        if workload["kind"] not in WORKLOADS:
            continue  # a CronJob's pod is done when it exits; init containers take no probes
        spec = _pod_spec(workload)
        for container in spec["containers"]:
            where = f"{workload['metadata']['name']} {container['name']}"
            ports = {port.get("name") for port in container.get("ports", [])} | {port["containerPort"] for port in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, f"{where} has no {probe}"
                handler = container[probe]
                if "httpGet" in handler:
                    assert handler["httpGet"]["port"] in ports, f"{where} {probe} port"
                    assert handler["httpGet"]["path"].startswith("/")
                elif "tcpSocket" in handler:
                    assert handler["tcpSocket"]["port"] in ports
                else:
                    command = handler["exec"]["command"]
                    for word in command:
                        if word.startswith("/etc/") and word.endswith(".py"):
                            assert _mounted_file(spec, container, word), f"{where} {probe}: {word} is not mounted"
                    if command[0] == "tradepulse":
                        _parse_cli(command, where)


def _mounted_file(spec: dict, container: dict, path: str) -> bool:
    """Whether ``path`` is a key of a ConfigMap mounted in the container (by folder or subPath)."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    config_maps = {obj["metadata"]["name"]: obj for obj in _rendered() if obj["kind"] == "ConfigMap"}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        if "configMap" not in volume:
            continue
        data = config_maps[volume["configMap"]["name"]]["data"]
        if "subPath" in mount and mount["mountPath"] == path and mount["subPath"] in data:
            return True
        if "subPath" not in mount and str(Path(path).parent) == mount["mountPath"] and Path(path).name in data:
            return True
    return False


def _parse_cli(command: list[str], where: str) -> Any:
    from tradepulse.cli import build_parser

    try:
        return build_parser().parse_args(command[1:])
    except SystemExit:
        pytest.fail(f"{where}: `{shlex.join(command)}` is not a valid tradepulse command")


def test_every_tradepulse_command_parses_and_every_config_file_is_mounted():
    seen = set()
    for workload in _workloads():
        spec = _pod_spec(workload)
        for container in _containers(spec):
            command = container.get("command", [])
            if command[:1] != ["tradepulse"]:
                continue
            args = _parse_cli(command, f"{workload['metadata']['name']} {container['name']}")
            seen.add(" ".join(command[1:3]))
            for option in ("--config",):
                if option in command:
                    assert _mounted_file(spec, container, command[command.index(option) + 1]), f"{container['name']}: {option}"
            assert callable(args.handler)
    assert {"serve --config", "jobs scheduler", "dashboard --host"} <= seen


def test_every_volume_mount_and_claim_exists():
    claims = set(_by_kind("PersistentVolumeClaim"))
    config_maps = set(_by_kind("ConfigMap"))
    for workload in _workloads():
        spec = _pod_spec(workload)
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        templates = {template["metadata"]["name"] for template in workload["spec"].get("volumeClaimTemplates", [])}
        for container in _containers(spec):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in templates, f"{container['name']}: no volume {mount['name']}"
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, volume
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, volume
    # Shared volumes are mounted by pods on different nodes.
    for name in ("tradepulse-store", "tradepulse-research"):
        assert _by_kind("PersistentVolumeClaim")[name]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_images_are_the_container_stacks():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    for name in ("prometheus", "alertmanager", "grafana"):
        assert _container(name, name, "Deployment")["image"] == compose[name]["image"]
    assert _container("tradepulse", "tradepulse")["image"].split(":")[0] == "tradepulse"


# -- secrets ---------------------------------------------------------------------------------------


def _secret_references() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for workload in _workloads():
        spec = _pod_spec(workload)
        for volume in spec.get("volumes", []):
            sources = [volume["secret"] | {"name": volume["secret"]["secretName"]}] if "secret" in volume else []
            sources += [source["secret"] for source in volume.get("projected", {}).get("sources", []) if "secret" in source]
            for source in sources:
                assert source.get("items"), f"{source['name']}: mount named keys only"
                assert not source.get("optional"), f"{source['name']} must exist"
                found.setdefault(source["name"], set()).update(item["key"] for item in source["items"])
        for container in _containers(spec):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                assert ref is None, f"{container['name']}: {entry['name']} from the environment; mount a file (_FILE) instead"
            assert not container.get("envFrom"), container["name"]
    return found


def _documented_secrets() -> dict[str, set[str]]:
    """``kubectl create secret generic NAME --from-file=KEY=...`` commands of docs/deployment.md."""
    text = DOC.read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = re.search(r"kubectl (?:-n \S+ )?create secret generic (\S+)(.*)", line)
        if match:
            found.setdefault(match.group(1), set()).update(re.findall(r"--from-file=(\w+)=", match.group(2)))
    return found


def test_every_secret_reference_is_a_documented_secret():
    assert _secret_references() == SECRETS
    assert _documented_secrets() == SECRETS, "docs/deployment.md must create exactly the secrets the manifests mount"
    examples = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all((KUBERNETES / "secret.example.yaml").read_text(encoding="utf-8"))}
    assert {name: set(doc["stringData"]) for name, doc in examples.items()} == SECRETS
    for doc in examples.values():
        for value in doc["stringData"].values():
            assert "REPLACE" in value, "secret.example.yaml holds placeholders only"


def test_every_file_variable_points_at_a_mounted_secret_file():
    for workload in _workloads():
        spec = _pod_spec(workload)
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for container in _containers(spec):
            files = set()
            for mount in container.get("volumeMounts", []):
                volume = volumes.get(mount["name"], {})
                sources = [volume["secret"]] if "secret" in volume else [s["secret"] for s in volume.get("projected", {}).get("sources", []) if "secret" in s]
                files |= {f"{mount['mountPath']}/{item['path']}" for source in sources for item in source.get("items", [])}
            for entry in container.get("env", []):
                if entry["name"].endswith("_FILE"):
                    assert entry["value"] in files, f"{container['name']}: {entry['name']}={entry['value']} is not a mounted secret"
            for word in re.findall(r"/run/secrets/\S+?(?=[\"')\s]|$)", " ".join(container.get("command", []))):
                assert word in files, f"{container['name']} reads {word}, which is not mounted"


def test_the_service_reads_every_credential_from_files():
    env = {entry["name"]: entry.get("value") for entry in _container("tradepulse", "tradepulse")["env"]}
    from tradepulse.store.postgres import PASSWORD_VARIABLE

    for variable in ("TRADEPULSE_API_READ_TOKEN", "TRADEPULSE_API_OPERATE_TOKEN", "TRADEPULSE_API_APPROVE_TOKEN",
                     "TRADEPULSE_BINANCE_API_KEY", "TRADEPULSE_BINANCE_API_SECRET", "TRADEPULSE_ALERT_WEBHOOK_URL",
                     PASSWORD_VARIABLE):
        assert f"{variable}_FILE" in env and variable not in env, variable
    assert "TRADEPULSE_BINANCE_URL" not in env, "the exchange's own URL in production, never a redirect"
    check = _container("tradepulse", "check")
    assert check["env"] == _container("tradepulse", "tradepulse")["env"]
    assert check["command"] == _container("tradepulse", "tradepulse")["command"] + ["--check"]


# -- the service: active, standby, PDB -------------------------------------------------------------


def test_the_service_is_one_active_pod_and_one_standby_behind_a_disruption_budget():
    statefulset = _by_kind("StatefulSet")["tradepulse"]
    spec = statefulset["spec"]
    assert spec["replicas"] == 2
    assert spec["podManagementPolicy"] == "Parallel", "the standby is never Ready: ordered start-up would wait for it"
    assert spec["updateStrategy"] == {"type": "OnDelete"}, "upgrades replace the standby first, by hand"
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname" and term["labelSelector"]["matchLabels"].items() <= labels.items()
    budget = _by_kind("PodDisruptionBudget")["tradepulse"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] == 1 and budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    container = spec["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["exec"]["command"][-2:] == ["/etc/tradepulse/probe/probe.py", "ready"]
    assert container["livenessProbe"]["exec"]["command"][-2:] == ["/etc/tradepulse/probe/probe.py", "live"]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 60, "cancelling open orders takes up to 35 s"
    # The API Service reaches the Ready (active) pod only; the governing one every pod.
    services = _by_kind("Service")
    assert not services["tradepulse"]["spec"].get("publishNotReadyAddresses")
    assert services["tradepulse-pods"]["spec"]["clusterIP"] == "None" and spec["serviceName"] == "tradepulse-pods"


def test_every_service_selects_pods_and_their_named_ports():
    for name, service in _by_kind("Service").items():
        selector = service["spec"]["selector"]
        pods = [obj for obj in _workloads() if selector.items() <= _pod_labels(obj).items()]
        assert pods, f"Service {name} selects no pod"
        ports = {port.get("name") for pod in pods for container in _pod_spec(pod)["containers"] for port in container.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {name}: no container port {port['targetPort']}"


# -- the config files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strategy_store(tmp_path_factory) -> Path:
    """A strategy store with a version of each strategy of live.toml approved for live."""
    from tradepulse.data import load_bars
    from tradepulse.promotion import StrategyStore
    from tradepulse.strategy import load_strategy

    folder = tmp_path_factory.mktemp("store")
    bars = load_bars("sample:binance:BTC/USDT:1h")
    with StrategyStore(folder) as store:
        for name, params in (("sma_cross", {"fast": 10, "slow": 30}), ("mean_reversion", {"window": 20})):
            version = store.create_version(load_strategy(name)(**params), bars, author="ana")
            store.promote(version.id, bars, actor="ana", comment="paper for two weeks")
            store.approve(version.id, approver="risk-bob", comment="reviewed fills and drawdown")
    return folder


def _live_toml() -> dict:
    return tomllib.loads(_config_map("tradepulse-config")["data"]["live.toml"])


def test_the_service_config_passes_the_service_loader(strategy_store):
    """live.toml of the ConfigMap, as the service parses it, with the strategy store stood in for the volume."""
    from tradepulse.errors import ConfigError
    from tradepulse.service.config import parse_config

    document = _live_toml()
    assert document["governance"]["store"] == "/var/lib/tradepulse-store"
    assert all(entry["strategy"].startswith("promoted:") for entry in document["strategies"]), "only reviewed versions trade"
    assert document["governance"]["require_versions"] is True
    store_url = document["service"]["store"]
    assert store_url.startswith("postgresql://") and "@postgres:5432/" in store_url
    assert ":" not in store_url.split("://", 1)[1].split("@", 1)[0], "no password in the URL"
    document["governance"]["store"] = str(strategy_store)
    try:
        config = parse_config(document, path=None, environ={})
    except ConfigError as error:
        # A TradePulse without the PostgreSQL journal backend does not know [service] store yet:
        # check everything else, and that this is the only thing it refuses.
        assert "unknown key 'store'" in str(error), error
        del document["service"]["store"]
        config = parse_config(document, path=None, environ={})
    else:
        assert config.service.store == store_url
    assert {entry.version.split("-")[0] for entry in config.strategies} == {"sma_cross", "mean_reversion"}
    assert (config.api.host, config.api.port, config.api.allow_remote) == ("0.0.0.0", 8780, True)
    assert str(config.state_dir) == "/var/lib/tradepulse"
    assert config.venue.kind == "ccxt"
    # The API port is the container's, the Service's and Prometheus's target.
    assert _container("tradepulse", "tradepulse")["ports"][0]["containerPort"] == config.api.port
    assert _by_kind("Service")["tradepulse"]["spec"]["ports"][0]["port"] == config.api.port
    # The paths of the file are the pod's mounts.
    mounts = {mount["mountPath"] for mount in _container("tradepulse", "tradepulse")["volumeMounts"]}
    assert {"/var/lib/tradepulse", "/var/lib/tradepulse-store"} <= mounts


def test_the_service_config_keeps_the_limits_the_alert_rules_mirror():
    """rules.yml's thresholds follow deploy/live.toml's [risk]; this file must keep the same limits."""
    container_stack = tomllib.loads((DEPLOY / "live.toml").read_text(encoding="utf-8"))
    assert _live_toml()["risk"] == container_stack["risk"]


def test_the_jobs_config_passes_the_scheduler_loader(tmp_path):
    from tradepulse.jobs.schedule import load_jobs_config

    text = _config_map("tradepulse-jobs")["data"]["jobs.toml"]
    document = tomllib.loads(text)
    notebooks = "/opt/tradepulse/notebooks"
    assert all(job["notebook"].startswith(notebooks + "/") for job in document["jobs"].values())
    scheduler = _container("tradepulse-scheduler", "scheduler", "Deployment")
    research = next(mount["mountPath"] for mount in scheduler["volumeMounts"] if mount["name"] == "research")
    assert document["scheduler"]["output_dir"].startswith(research + "/")
    webhook = tmp_path / "jobs_webhook_url"
    webhook.write_text("https://hooks.example.com/services/REPLACE_ME\n", encoding="utf-8")
    # The pod's paths, pointed at the checkout's notebooks (the research image copies them) and a stand-in secret.
    local = (text.replace(notebooks, str(ROOT / "notebooks"))
             .replace(document["alerts"]["webhook_url_file"], str(webhook))
             .replace(document["scheduler"]["output_dir"], str(tmp_path / "reports")))
    (tmp_path / "jobs.toml").write_text(local, encoding="utf-8")
    config = load_jobs_config(tmp_path / "jobs.toml", check_notebooks=True)
    assert config.jobs and config.alerts is not None
    dockerfile = (KUBERNETES / "Dockerfile.research").read_text(encoding="utf-8")
    assert f"COPY --chown=root:root notebooks {notebooks}" in dockerfile


def test_the_research_image_copies_only_what_its_ignore_file_lets_in():
    text = (KUBERNETES / "Dockerfile.research").read_text(encoding="utf-8")
    ignore = (KUBERNETES / "Dockerfile.research.dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore
    copies = re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, flags=re.MULTILINE)
    assert copies
    for source in copies:
        for path in source.split():
            assert f"!{path.rstrip('/')}" in ignore, f"{path} is copied but excluded"
            assert (ROOT / path).is_dir() or (ROOT / path).is_file(), path
    assert re.search(r"^FROM \$\{TRADEPULSE_IMAGE\}$", text, flags=re.MULTILINE)


def test_monitoring_addresses_are_services_and_mounted_secrets():
    services = _by_kind("Service")
    prometheus = yaml.safe_load(_config_map("prometheus-config")["data"]["prometheus.yml"])
    job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "tradepulse")
    host, port = job["static_configs"][0]["targets"][0].split(":")
    assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}
    assert services[host]["spec"]["selector"] == {"app.kubernetes.io/name": "tradepulse"}
    am_host, am_port = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0].split(":")
    assert int(am_port) in {p["port"] for p in services[am_host]["spec"]["ports"]}
    for workload, path in (("prometheus", job["authorization"]["credentials_file"]),
                           ("alertmanager", yaml.safe_load(_config_map("alertmanager-config")["data"]["alertmanager.yml"])
                            ["receivers"][0]["webhook_configs"][0]["url_file"])):
        spec = _pod_spec(_by_kind("Deployment")[workload])
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        files = {f"{mount['mountPath']}/{item['path']}" for mount in spec["containers"][0]["volumeMounts"]
                 if "secret" in volumes[mount["name"]] for item in volumes[mount["name"]]["secret"]["items"]}
        assert path in files, f"{workload} reads {path}, which is not mounted"
    datasource = yaml.safe_load(_config_map("grafana-datasources")["data"]["prometheus.yml"])["datasources"][0]
    ds_host, ds_port = datasource["url"].removeprefix("http://").split(":")
    assert int(ds_port) in {p["port"] for p in services[ds_host]["spec"]["ports"]}


# -- NetworkPolicies -------------------------------------------------------------------------------


def _matches(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"the test reads matchLabels only: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def _pods() -> dict[str, dict]:
    return {obj["metadata"]["name"]: _pod_labels(obj) for obj in _workloads()}


def _peer_allows(peers: list[dict] | None, labels: dict | None, external: bool) -> bool:
    if peers is None:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            if external:
                return True
        elif labels is not None and "namespaceSelector" not in peer and _matches(peer["podSelector"], labels):
            return True
    return False


def _port_allows(ports: list[dict] | None, port: int) -> bool:
    return ports is None or any(entry.get("port") == port and entry.get("protocol", "TCP") == "TCP" for entry in ports)


def _allowed(source: dict | None, target: dict | None, port: int) -> bool:
    """Whether the policies let ``source``'s pods reach ``target``'s on TCP ``port`` (None: outside the cluster)."""
    policies = list(_by_kind("NetworkPolicy").values())

    def direction(pod: dict | None, kind: str, other: dict | None) -> bool:
        if pod is None:
            return True  # the other side of the cluster's edge is not ours to police
        selecting = [p for p in policies if kind in p["spec"]["policyTypes"] and _matches(p["spec"]["podSelector"], pod)]
        assert selecting, "default deny selects every pod"
        rules = [rule for policy in selecting for rule in policy["spec"].get(kind.lower(), [])]
        key = "from" if kind == "Ingress" else "to"
        return any(_peer_allows(rule.get(key), other, other is None) and _port_allows(rule.get("ports"), port) for rule in rules)

    return direction(source, "Egress", target) and direction(target, "Ingress", source)


def test_network_policies_deny_by_default_and_select_existing_pods():
    policies = _by_kind("NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = _pods()
    for name, policy in policies.items():
        spec = policy["spec"]
        if spec["podSelector"]:
            assert any(_matches(spec["podSelector"], labels) for labels in pods.values()), f"{name} selects no pod"
        else:
            assert name in ("default-deny", "allow-dns"), f"{name} selects every pod"
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert any(_matches(peer["podSelector"], labels) for labels in pods.values()), f"{name}: {peer} selects no pod"
                if "ipBlock" in peer:
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(peer["ipBlock"]["except"])


def test_network_policies_allow_exactly_the_needed_flows():
    pods = _pods()
    service, postgres, prometheus = pods["tradepulse"], pods["postgres"], pods["prometheus"]
    needed = [
        (prometheus, service, 8780), (pods["tradepulse-dashboard"], service, 8780), (pods["tradepulse-jupyterlab"], service, 8780),
        (service, postgres, 5432), (pods["tradepulse-backup"], postgres, 5432),
        (service, None, 443), (pods["alertmanager"], None, 443), (pods["tradepulse-scheduler"], None, 443),
        (prometheus, pods["alertmanager"], 9093), (pods["grafana"], prometheus, 9090),
    ]
    for source, target, port in needed:
        assert _allowed(source, target, port), (source, target, port)
    refused = [
        (None, service, 8780), (pods["grafana"], service, 8780), (pods["tradepulse-scheduler"], service, 8780),
        (pods["tradepulse-jupyterlab"], postgres, 5432), (pods["tradepulse-dashboard"], postgres, 5432),
        (None, postgres, 5432), (service, None, 80), (postgres, None, 443), (pods["tradepulse-dashboard"], None, 443),
        (pods["grafana"], None, 443), (prometheus, None, 443), (None, pods["tradepulse-jupyterlab"], 8888),
    ]
    for source, target, port in refused:
        assert not _allowed(source, target, port), (source, target, port)
    # Name resolution for every pod.
    dns = _by_kind("NetworkPolicy")["allow-dns"]["spec"]
    assert {(p["protocol"], p["port"]) for p in dns["egress"][0]["ports"]} == {("UDP", 53), ("TCP", 53)}


# -- the strategy store backup ---------------------------------------------------------------------


def test_the_store_backup_copies_the_record_and_every_version(strategy_store, tmp_path):
    from tradepulse.promotion import StrategyStore

    script = [sys.executable, str(KUBERNETES / "backup_store.py"), "--store", str(strategy_store)]
    old = tmp_path / "backups" / "store-20200101T000000Z.tar.gz"
    old.parent.mkdir()
    old.write_bytes(b"old")
    os.utime(old, (time.time() - 30 * 86400,) * 2)
    result = subprocess.run(script + ["--output-dir", str(old.parent), "--keep-days", "14"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (archive,) = old.parent.glob("store-*.tar.gz")
    assert not old.exists() and not list(old.parent.glob(".*partial"))
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        tar.extractall(tmp_path / "restored", filter="data")
    assert manifest["record"]["integrity"] == "ok" and len(manifest["versions"]) == 2
    with StrategyStore(strategy_store) as original, StrategyStore(tmp_path / "restored") as restored:
        assert restored.stages() == original.stages()
        for version in original.versions():
            assert restored.version(version.id).load().params == version.load().params
    streamed = subprocess.run(script + ["--output-dir", "-"], capture_output=True, timeout=60)
    assert streamed.returncode == 0 and streamed.stdout[:2] == b"\x1f\x8b"


# -- the docs --------------------------------------------------------------------------------------


def test_the_deployment_guide_covers_kubernetes():
    text = DOC.read_text(encoding="utf-8")
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    for needed in ("Kubernetes", "Several hosts", "Failover", "Backups on Kubernetes", "Upgrades on Kubernetes"):
        assert any(heading.startswith(needed) for heading in headings), f"docs/deployment.md has no section {needed!r}"
    assert "kubectl apply -k deploy/kubernetes" in text
    for name in SECRETS:
        assert name in text
