"""The Kubernetes manifests (deploy/k8s/) agree with the code they run.

Checked statically with PyYAML (no cluster, kubectl or kubeconform needed): the packages the
containers run, the settings they are given, the paths and ports their probes ask, the
Secret keys they mount and the queue KEDA scales the converter on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from common.settings import Environment, ServiceSettings
from contracts.topology import Queues
from tests.unit.test_deployment_files import NON_FIELD_SETTINGS, PREFIX, ROOT, SETTINGS, served_paths

K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
# placeholders only: real values are put in a copy, never in the repository
SECRETS_EXAMPLE = K8S / "secrets.example.yaml"
PLACEHOLDER = "REPLACE-ME"
SECRETS_DIR = "VIDMP3_SECRETS_DIR"


@cache
def documents() -> tuple[tuple[Path, dict[str, Any]], ...]:
    loaded = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                loaded.append((path, document))
    return tuple(loaded)


def manifests(kind: str) -> dict[str, dict[str, Any]]:
    return {document["metadata"]["name"]: document for _, document in documents() if document.get("kind") == kind}


@cache
def kustomization() -> dict[str, Any]:
    loaded = yaml.safe_load(KUSTOMIZATION.read_text())
    assert isinstance(loaded, dict)
    return loaded


def deployments() -> dict[str, dict[str, Any]]:
    return manifests("Deployment")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def module_run(deployment: dict[str, Any]) -> str:
    """The package the container runs: under the image's ``ENTRYPOINT ["python", "-m"]`` the
    first of its ``args``, unless ``command`` replaces the entrypoint and spells it out."""
    spec = container(deployment)
    if "command" in spec:
        found = re.search(r"python -m (\w+)", " ".join([*spec["command"], *spec.get("args", [])]))
        assert found, f"{deployment['metadata']['name']}: its command runs no python -m PACKAGE"
        return found.group(1)
    return str(spec["args"][0])


def config_map_values(deployment: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for source in container(deployment).get("envFrom", []):
        values |= {
            name: str(value) for name, value in manifests("ConfigMap")[source["configMapRef"]["name"]]["data"].items()
        }
    return values


def environment(deployment: dict[str, Any]) -> dict[str, str]:
    """The variables the container sees: its ConfigMaps, then its own ``env``."""
    return config_map_values(deployment) | {
        item["name"]: str(item["value"]) for item in container(deployment).get("env", [])
    }


def volumes(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"].get("volumes", [])}


def mounted_secret(deployment: dict[str, Any], mount_path: str) -> dict[str, Any] | None:
    for mount in container(deployment).get("volumeMounts", []):
        if mount["mountPath"] == mount_path:
            return volumes(deployment)[mount["name"]].get("secret")
    return None


@cache
def example_secrets() -> dict[str, dict[str, str]]:
    return {
        document["metadata"]["name"]: document.get("stringData", {})
        for document in yaml.safe_load_all(SECRETS_EXAMPLE.read_text())
        if document and document["kind"] == "Secret"
    }


def secret_files(deployment: dict[str, Any]) -> dict[str, str]:
    """File name -> (placeholder) content of what is mounted at VIDMP3_SECRETS_DIR."""
    secret = mounted_secret(deployment, environment(deployment)[SECRETS_DIR])
    assert secret, f"{deployment['metadata']['name']}: nothing is mounted at {SECRETS_DIR}"
    data = example_secrets()[secret["secretName"]]
    items = secret.get("items") or [{"key": key, "path": key} for key in data]
    return {item["path"]: data[item["key"]] for item in items}


def settings_of(deployment: dict[str, Any]) -> ServiceSettings:
    """The settings the container's process loads, from its variables and its secret files.

    Validated from those values alone, in the environment the ConfigMap sets (production):
    a development default still in place fails here as it would at start.
    """
    values = {
        name.removeprefix(PREFIX).lower(): value
        for name, value in environment(deployment).items()
        if name.startswith(PREFIX) and name not in NON_FIELD_SETTINGS
    }
    values |= {name.removeprefix(PREFIX.lower()): content for name, content in secret_files(deployment).items()}
    return SETTINGS[module_run(deployment)].model_validate(values)


def container_port(deployment: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [item["containerPort"] for item in container(deployment)["ports"] if item["name"] == port]
    return int(number)


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def deployment_names() -> list[str]:
    return sorted(deployments())


def images() -> Iterator[str]:
    for deployment in deployments().values():
        yield container(deployment)["image"]


def test_every_manifest_parses_into_named_kubernetes_objects() -> None:
    assert documents()
    for path, document in documents():
        assert {"apiVersion", "kind"} <= set(document), f"{path.name}: a document without apiVersion or kind"
        if document["kind"] != "Kustomization":
            assert document["metadata"]["name"], f"{path.name}: a {document['kind']} without a name"


def test_the_kustomization_lists_every_manifest_but_the_secrets_example() -> None:
    listed = set(kustomization()["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {KUSTOMIZATION.name}

    assert SECRETS_EXAMPLE.name not in listed, "applying the kustomization would overwrite real secrets"
    assert listed == present - {SECRETS_EXAMPLE.name}


def test_every_service_package_has_a_deployment() -> None:
    assert {module_run(deployment) for deployment in deployments().values()} == set(SETTINGS)


@pytest.mark.parametrize("name", deployment_names())
def test_a_deployment_runs_a_package_of_the_repository_from_the_project_image(name: str) -> None:
    deployment = deployments()[name]
    module = module_run(deployment)
    image_names = {image["name"] for image in kustomization()["images"]}

    assert (ROOT / module / "__main__.py").is_file(), f"{name}: python -m {module} has no {module}/__main__.py"
    assert container(deployment)["image"].rsplit(":", 1)[0] in image_names, f"{name} runs another image"
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))


def test_every_vidmp3_variable_names_a_setting() -> None:
    fields = {field for settings in SETTINGS.values() for field in settings.model_fields}
    named = {name for config in manifests("ConfigMap").values() for name in config["data"]}
    for deployment in deployments().values():
        named |= {item["name"] for item in container(deployment).get("env", [])}

    settings_names = {name for name in named if name.startswith(PREFIX)} - NON_FIELD_SETTINGS
    unknown = {name for name in settings_names if name.removeprefix(PREFIX).lower() not in fields}

    assert not unknown, f"no settings field reads {sorted(unknown)}"


@pytest.mark.parametrize("name", deployment_names())
def test_a_deployment_loads_production_settings_from_what_it_is_given(name: str) -> None:
    settings = settings_of(deployments()[name])

    assert settings.environment is Environment.PRODUCTION
    assert settings.host == "0.0.0.0"  # noqa: S104 - a pod listens beyond its loopback
    assert int(environment(deployments()[name])["VIDMP3_PORT"]) == settings.port


@pytest.mark.parametrize("name", deployment_names())
def test_a_deployment_mounts_only_secret_keys_its_settings_read(name: str) -> None:
    deployment = deployments()[name]
    fields = SETTINGS[module_run(deployment)].model_fields

    for file_name in secret_files(deployment):
        assert file_name.startswith(PREFIX.lower()), f"{name}: {file_name} is not named like a VIDMP3_ variable"
        assert file_name.removeprefix(PREFIX.lower()) in fields, f"{name}: no setting reads {file_name}"


def test_the_secrets_example_holds_placeholders_only() -> None:
    for document in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()):
        assert document["kind"] == "Secret"
        assert "data" not in document, "base64 `data` hides what it holds: use stringData placeholders"
        for key, value in document["stringData"].items():
            assert PLACEHOLDER in value, f"{document['metadata']['name']}/{key} is not a placeholder"


@pytest.mark.parametrize("name", deployment_names())
def test_probes_ask_health_and_ready_on_the_port_the_service_listens_on(name: str) -> None:
    deployment = deployments()[name]
    module, spec = module_run(deployment), container(deployment)
    port = settings_of(deployment).port
    expected = {"livenessProbe": "/health", "readinessProbe": "/ready", "startupProbe": "/health"}

    assert {"livenessProbe", "readinessProbe"} <= set(spec), f"{name} lacks a liveness or readiness probe"
    for probe, path in expected.items():
        if probe not in spec:
            continue
        request = spec[probe]["httpGet"]
        assert request["path"] == path, f"{name}: {probe} asks {request['path']}, not {path}"
        assert request["path"] in served_paths(module)
        assert container_port(deployment, request["port"]) == port, f"{name}: {probe} asks another port than {port}"


@pytest.mark.parametrize("name", deployment_names())
def test_prometheus_annotations_name_the_metrics_port(name: str) -> None:
    deployment = deployments()[name]
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})

    settings = settings_of(deployment)
    assert annotations.get("prometheus.io/scrape") == "true"
    assert settings.metrics_address is not None
    assert int(annotations["prometheus.io/port"]) == settings.metrics_address[1] != settings.port
    assert container_port(deployment, "metrics") == settings.metrics_address[1]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert "/metrics" not in served_paths(module_run(deployment))


def quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    number, unit = re.fullmatch(r"([\d.]+)([a-zA-Z]*)", str(value)).groups()  # type: ignore[union-attr]
    return float(number) * units.get(unit, 1)


@pytest.mark.parametrize("name", deployment_names())
def test_a_container_requests_no_more_than_its_limits(name: str) -> None:
    resources = container(deployments()[name])["resources"]

    for resource in ("cpu", "memory"):
        assert quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]), (
            f"{name} {resource}"
        )


@pytest.mark.parametrize("name", deployment_names())
def test_a_service_selects_the_deployment_and_forwards_to_its_port(name: str) -> None:
    deployment = deployments()[name]
    service = manifests("Service")[name]

    assert selects(service["spec"]["selector"], pod_labels(deployment))
    for port in service["spec"]["ports"]:
        assert container_port(deployment, port["targetPort"]) == settings_of(deployment).port
        assert port["port"] == settings_of(deployment).port, "other services reach it on the port it uses locally"


def test_the_auth_url_is_the_auth_service() -> None:
    for deployment in deployments().values():
        settings = settings_of(deployment)
        if hasattr(settings, "auth_url"):
            url = urlsplit(settings.auth_url)
            auth = deployments()["auth"]
            assert url.hostname in manifests("Service")
            assert selects(manifests("Service")[url.hostname]["spec"]["selector"], pod_labels(auth))
            assert url.port == settings_of(auth).port


def test_the_ingress_routes_to_paths_the_gateway_serves() -> None:
    for ingress in manifests("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                deployment = next(
                    d
                    for d in deployments().values()
                    if selects(manifests("Service")[backend["name"]]["spec"]["selector"], pod_labels(d))
                )
                served = served_paths(module_run(deployment))
                assert any(route.startswith(path["path"]) for route in served), f"{path['path']}: nothing served there"
                assert not {"/health", "/ready", "/metrics"} & {path["path"]}


def test_only_the_gateway_may_reach_auth_whose_trusted_proxies_are_networks() -> None:
    (policy,) = [
        p
        for p in manifests("NetworkPolicy").values()
        if selects(p["spec"]["podSelector"]["matchLabels"], pod_labels(deployments()["auth"]))
    ]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    pod_peers = [peer["podSelector"]["matchLabels"] for peer in peers if "podSelector" in peer]

    assert pod_peers, "auth trusts X-Forwarded-For from a whole network: only the gateway may connect"
    assert all(selects(peer, pod_labels(deployments()["gateway"])) for peer in pod_peers)


def test_keda_scales_the_converter_on_its_queue() -> None:
    (scaled,) = manifests("ScaledObject").values()
    target = deployments()[scaled["spec"]["scaleTargetRef"]["name"]]
    (trigger,) = scaled["spec"]["triggers"]
    rabbit_url = example_secrets()["vidmp3-secrets"]["vidmp3_rabbit_url"]

    assert module_run(target) == "converter"
    assert "replicas" not in target["spec"], "the HPA KEDA makes owns the converter's replicas"
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] in {queue.name for queue in Queues.ALL}
    assert trigger["metadata"]["queueName"] == Queues.CONVERTER.name
    assert trigger["metadata"]["vhostName"] == urlsplit(rabbit_url).path.lstrip("/")

    authentication = manifests("TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    for reference in authentication["spec"]["secretTargetRef"]:
        assert reference["key"] in example_secrets()[reference["name"]]


def test_projections_run_a_standby_behind_the_single_active_consumer() -> None:
    projections = next(d for d in deployments().values() if module_run(d) == "projections")

    assert Queues.PROJECTIONS.arguments["x-single-active-consumer"] is True
    assert projections["spec"]["replicas"] >= 2


# --- what the resources rest on, and what integrators reach ----------------------------------

_IDLE = re.compile(r"(\d+) MB RSS")
_PEAK = re.compile(r"(\d+) MB (?:peak )?\(VmHWM\)|(the same) at its peak")
HEADROOM = 1.2
"""A limit at least this much above the highest peak measured: past it the pod is OOM-killed."""


def measured_memory(name: str) -> tuple[float, float]:
    """The idle and peak RSS (bytes) that the comment above the deployment's ``resources`` records."""
    path = next(path for path, document in documents() if document is deployments()[name])
    lines = path.read_text().splitlines()
    above = lines[: next(n for n, line in enumerate(lines) if line.strip() == "resources:")]
    comment = []
    for line in reversed(above):
        if not line.strip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("#").strip())
    text = " ".join(comment)
    idle, peak = _IDLE.search(text), _PEAK.search(text)
    assert idle, f"{path.name}: the comment above resources gives no measured 'N MB RSS'"
    assert peak, f"{path.name}: the comment above resources gives no 'N MB (VmHWM)' (or 'the same at its peak')"
    idle_bytes = int(idle.group(1)) * 1e6
    return idle_bytes, idle_bytes if peak.group(2) else int(peak.group(1)) * 1e6


@pytest.mark.parametrize("name", deployment_names())
def test_memory_requests_and_limits_cover_what_was_measured(name: str) -> None:
    idle, peak = measured_memory(name)
    resources = container(deployments()[name])["resources"]

    assert quantity(resources["requests"]["memory"]) >= idle, f"{name}: requests less than it uses idle"
    assert quantity(resources["limits"]["memory"]) >= peak * HEADROOM, f"{name}: the limit leaves no room over its peak"


def test_the_ingress_publishes_the_docs_integrators_read() -> None:
    """The REST API's OpenAPI UI and document, and the events' AsyncAPI page and document."""
    served = served_paths("gateway")
    prefixes = [
        path["path"]
        for ingress in manifests("Ingress").values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    for docs in ("/docs/swagger", "/docs/openapi.json", "/docs/asyncapi", "/docs/asyncapi.yaml", "/docs/asyncapi.json"):
        assert docs in served, f"the gateway does not serve {docs}"
        assert any(docs.startswith(prefix) for prefix in prefixes), f"no ingress path reaches {docs}"
