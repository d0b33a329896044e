"""The deployment files (Dockerfile, compose.yaml, deploy/) agree with the code they run.

Checked statically, so that a renamed setting, package or route breaks a unit test rather
than a `docker compose up` nobody ran: no Docker engine is needed.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from auth.settings import DEV_MYSQL_URL, AuthSettings
from common.settings import DEV_RABBIT_URL, ServiceSettings
from converter.settings import ConverterSettings
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings
from projections.settings import ProjectionSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"

PREFIX = "VIDMP3_"
# Read by ServiceSettings.load() itself rather than being a field.
NON_FIELD_SETTINGS = {"VIDMP3_SECRETS_DIR"}

SETTINGS: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "auth": AuthSettings,
    "converter": ConverterSettings,
    "notifier": NotifierSettings,
    "projections": ProjectionSettings,
}

BACKING_SERVICES = {"rabbitmq": 5672, "mongo": 27017, "mysql": 3306}
TEST_VHOST = "vidmp3-test"  # tests/services.py's default
TEST_DATABASE = "vidmp3_test"  # tests/services.py's default
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def image_services() -> dict[str, dict[str, Any]]:
    """The services built from the repository's Dockerfile."""
    return {name: service for name, service in services().items() if _build_context(service) == "."}


def _build_context(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if isinstance(build, dict):
        return str(build.get("context", "."))
    return None if build is None else str(build)


def read_env_file(path: Path) -> dict[str, str]:
    variables = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f"{path.name}: not NAME=value: {line!r}"
            variables[name.strip()] = value.strip()
    return variables


def environment(service: dict[str, Any]) -> dict[str, str]:
    """What a service's process sees: its env files, then its environment block."""
    env_files = service.get("env_file", [])
    variables: dict[str, str] = {}
    for env_file in [env_files] if isinstance(env_files, str) else env_files:
        variables |= read_env_file(ROOT / (env_file if isinstance(env_file, str) else env_file["path"]))
    block = service.get("environment", {})
    if isinstance(block, list):
        block = dict(item.partition("=")[::2] for item in block)
    return variables | {name: str(value) for name, value in block.items()}


def modules_run(service: dict[str, Any]) -> list[str]:
    """The packages a service runs with ``python -m``.

    Under the image's ``ENTRYPOINT ["python", "-m"]`` that is the command's first word; a
    service that replaces the entrypoint (a shell, say) has to spell ``python -m`` out.
    """
    command = service.get("command", [])
    command = shlex.split(command) if isinstance(command, str) else command
    entrypoint = service.get("entrypoint")
    if entrypoint is None:
        return command[:1]
    entrypoint = shlex.split(entrypoint) if isinstance(entrypoint, str) else entrypoint
    return re.findall(r"python -m (\w+)", " ".join([*entrypoint, *command]))


def settings_for(service: dict[str, Any]) -> Iterator[ServiceSettings]:
    """The settings each of a service's processes loads from what compose gives it.

    Validated from those values alone: this machine's own VIDMP3_* variables do not count.
    """
    values = {
        name.removeprefix(PREFIX).lower(): value
        for name, value in environment(service).items()
        if name.startswith(PREFIX) and name not in NON_FIELD_SETTINGS
    }
    for module in modules_run(service):
        yield SETTINGS[module].model_validate(values)


def health_check_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test[1:])


def has_health_check(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return not check.get("disable", False) and bool(check.get("test"))


def published_ports(service: dict[str, Any]) -> set[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port."""
    published = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published.add((port.get("host_ip", "0.0.0.0"), int(port["published"]), int(port["target"])))  # noqa: S104
            continue
        *host, target = str(port).rsplit(":", 1)
        address, _, host_port = host[0].rpartition(":") if host else ("", "", target)
        published.add((address or "0.0.0.0", int(host_port), int(target)))  # noqa: S104
    return published


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Each dependency of a service and the condition it waits for."""
    dependencies = service.get("depends_on", {})
    if isinstance(dependencies, list):
        return dict.fromkeys(dependencies, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in dependencies.items()}


@cache
def served_paths(module: str) -> frozenset[str]:
    """The HTTP paths the service's app answers, read from the app its factory builds.

    ``connect=false`` keeps the blocking Mongo client from opening: building an app must
    not reach out (the async clients and the broker connect lazily anyway).
    """
    settings = SETTINGS[module].model_validate({"mongo_url": "mongodb://127.0.0.1:27017/?connect=false"})
    app = importlib.import_module(f"{module}.app").create_app(settings)
    return frozenset(route[0] if isinstance(route, tuple) else route.path for route in app.routes)


def test_compose_file_parses_into_services_and_volumes() -> None:
    assert set(compose()) >= {"services", "volumes"}
    assert image_services(), "no service is built from the Dockerfile"


def test_every_service_package_runs_from_the_image() -> None:
    modules = {module for service in image_services().values() for module in modules_run(service)}

    assert modules >= set(SETTINGS), f"compose.yaml runs no container for {sorted(set(SETTINGS) - modules)}"


@pytest.mark.parametrize("name", sorted(image_services()))
def test_an_image_service_runs_a_package_of_the_repository(name: str) -> None:
    modules = modules_run(services()[name])

    assert modules, f"{name}: its command names no package to run with python -m"
    for module in modules:
        assert (ROOT / module / "__main__.py").is_file(), f"{name}: python -m {module} has no {module}/__main__.py"


def test_every_vidmp3_variable_names_a_setting() -> None:
    fields = {field for settings in SETTINGS.values() for field in settings.model_fields}
    named = set(read_env_file(DEPLOY / "compose.env"))
    for service in services().values():
        named |= set(environment(service))

    settings_names = {name for name in named if name.startswith(PREFIX)} - NON_FIELD_SETTINGS
    unknown = {name for name in settings_names if name.removeprefix(PREFIX).lower() not in fields}

    assert not unknown, f"no settings field reads {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(image_services()))
def test_an_image_service_loads_its_settings_from_what_compose_gives_it(name: str) -> None:
    for settings in settings_for(services()[name]):
        assert settings.host == "0.0.0.0", "a container must listen beyond its loopback"  # noqa: S104


def test_the_services_reach_each_other_by_compose_service_name() -> None:
    hosts = {}
    for key, value in read_env_file(DEPLOY / "compose.env").items():
        if key.endswith("_URL") and key != "VIDMP3_PUBLIC_URL":
            hosts[key] = urlsplit(value).hostname
    hosts["VIDMP3_SMTP_HOST"] = read_env_file(DEPLOY / "compose.env")["VIDMP3_SMTP_HOST"]

    assert set(hosts.values()) <= set(services()), f"hosts that are no compose service: {hosts}"


@pytest.mark.parametrize("name", sorted(services()))
def test_a_long_running_service_has_a_health_check(name: str) -> None:
    service = services()[name]
    if service.get("restart") == "no":  # a one-shot job: others wait for it to complete
        return

    assert has_health_check(service), f"{name} has no health check"
    test = service["healthcheck"]["test"]
    assert isinstance(test, str) or test[0] in {"CMD", "CMD-SHELL"}, f"{name}: unknown health check form {test!r}"


@pytest.mark.parametrize("name", sorted(image_services()))
def test_an_image_service_health_check_asks_a_path_its_app_serves_on_its_port(name: str) -> None:
    service = services()[name]
    if not has_health_check(service):
        return
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w./-]*)", health_check_command(service))
    assert url, f"{name}: the health check asks no http://127.0.0.1:PORT/PATH"
    port, path = int(url.group(1)), url.group(2)

    for module, settings in zip(modules_run(service), settings_for(service), strict=True):
        assert settings.port == port, f"{name} listens on {settings.port}, not {port}"
        assert path in served_paths(module), f"{name}: {module} serves no {path} ({sorted(served_paths(module))})"


@pytest.mark.parametrize(("name", "port"), sorted(BACKING_SERVICES.items()))
def test_a_backing_service_is_published_on_loopback_with_a_health_check(name: str, port: int) -> None:
    service = services().get(name)

    assert service is not None, f"scripts/services starts `{name}` from compose.yaml, which has none"
    assert has_health_check(service), f"{name} has no health check: `up --wait` could not wait for it"
    assert ("127.0.0.1", port, port) in published_ports(service)


@pytest.mark.parametrize("name", sorted(services()))
def test_depends_on_names_defined_services_it_can_wait_for(name: str) -> None:
    for dependency, condition in depends_on(services()[name]).items():
        assert dependency in services(), f"{name} depends on {dependency}, which is not defined"
        assert condition in DEPENDS_ON_CONDITIONS, f"{name}: unknown condition {condition}"
        if condition == "service_healthy":
            assert has_health_check(services()[dependency]), f"{name} waits for {dependency} to be healthy"
        if condition == "service_completed_successfully":
            assert services()[dependency].get("restart") == "no", f"{name} waits for {dependency} to finish"


def test_mounted_files_env_files_and_named_volumes_exist() -> None:
    declared_volumes = set(compose().get("volumes") or {})
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in declared_volumes, f"{name} mounts volume {source}, which is not declared"
        environment(service)  # reads every env file


def test_the_signing_key_is_made_into_the_volume_auth_reads() -> None:
    auth = services()["auth"]
    key_file = Path(environment(auth)["VIDMP3_SIGNING_KEY_FILE"])
    makers = {
        name
        for name, service in services().items()
        if f"generate-key {key_file}" in " ".join([*service.get("entrypoint", []), *service.get("command", [])])
    }
    assert makers, f"no service runs `auth generate-key {key_file}`"

    for maker in makers:
        assert depends_on(auth).get(maker) == "service_completed_successfully"
        shared = {
            volume.split(":")[0]
            for volume in services()[maker]["volumes"]
            if volume.split(":")[1] == str(key_file.parent)
        }
        mounted = {volume.split(":")[0] for volume in auth["volumes"] if volume.split(":")[1] == str(key_file.parent)}
        assert shared, f"{maker} writes the key into no volume"
        assert shared == mounted, f"auth does not mount what {maker} writes the key into"


def test_rabbitmq_definitions_declare_the_vhosts_in_use_and_the_users_on_them() -> None:
    definitions = json.loads((DEPLOY / "rabbitmq-definitions.json").read_text())
    vhosts = {vhost["name"] for vhost in definitions["vhosts"]}
    permitted = {(grant["user"], grant["vhost"]) for grant in definitions["permissions"]}

    for url in (DEV_RABBIT_URL, read_env_file(DEPLOY / "compose.env")["VIDMP3_RABBIT_URL"]):
        parts = urlsplit(url)
        for vhost in (parts.path.lstrip("/"), TEST_VHOST):
            assert vhost in vhosts
            assert (parts.username, vhost) in permitted
    assert "/etc/rabbitmq/definitions.json" in (DEPLOY / "rabbitmq.conf").read_text()


def test_mysql_init_creates_the_databases_and_the_user_the_urls_name() -> None:
    sql = (DEPLOY / "mysql-init.sql").read_text()

    for url in (DEV_MYSQL_URL, read_env_file(DEPLOY / "compose.env")["VIDMP3_MYSQL_URL"]):
        parts = urlsplit(url)
        assert re.search(rf"CREATE USER IF NOT EXISTS '{parts.username}'@'%' .* BY '{parts.password}'", sql)
        for database in (parts.path.strip("/"), TEST_DATABASE):
            assert f"CREATE DATABASE IF NOT EXISTS {database} " in sql
            assert f"GRANT ALL PRIVILEGES ON {database}.* TO '{parts.username}'@'%'" in sql


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines if line and line[0] != "#"]


def test_the_dockerfile_runs_python_m_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    last = dict(instructions)  # the last of each instruction is the one in force

    assert json.loads(last["ENTRYPOINT"]) == ["python", "-m"]
    assert json.loads(last["CMD"])[0] in SETTINGS
    assert last["USER"].split(":")[0] not in {"root", "0"}
    assert "/health" in last["HEALTHCHECK"]
    assert "VIDMP3_PORT" in last["HEALTHCHECK"]
    assert any(keyword == "RUN" and "uv sync --locked --no-dev" in argument for keyword, argument in instructions)


def test_the_image_gets_every_package_the_wheel_is_built_from() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    copied = {argument.split()[0] for keyword, argument in dockerfile_instructions() if keyword == "COPY"}
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignored = {
        name
        for name in packages | {"pyproject.toml", "uv.lock", "README.md"}
        for pattern in patterns
        if pattern and not pattern.startswith("#") and fnmatch(name, pattern)
    }

    assert packages <= copied, f"the Dockerfile does not copy {sorted(packages - copied)}"
    assert not ignored, f".dockerignore keeps {sorted(ignored)} out of the build"


def test_docker_compose_accepts_the_file() -> None:
    # Only where the Docker CLI has its compose plugin (the development machines have no
    # Docker at all): there `docker compose config` checks the file against the compose
    # schema as well. No engine is needed for it.
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode:
        return
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr


# --- monitoring: Prometheus and Grafana ---------------------------------------------------

PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
GRAFANA = DEPLOY / "grafana"
RABBITMQ_PROMETHEUS_PORT = 15692  # the rabbitmq_prometheus plugin's listener
PROMETHEUS_PORT = 9090

# What the Operability issue has the services export; those not in the code yet are being
# added there. Once they are, the scan of the code below finds them as well.
PLANNED_METRICS = {
    "converter_jobs_total",
    "converter_conversion_seconds",
    "converter_audio_seconds_total",
    "converter_storage_bytes_read_total",
    "notifier_emails_total",
    "projection_lag_seconds",
}
# Not ours: RabbitMQ's prometheus plugin (per-object endpoint), and Prometheus's own `up`.
FOREIGN_METRICS = {"rabbitmq_queue_messages_ready", "up"}
# What the dashboard has to show (the issue's list).
DASHBOARD_METRICS = {
    "http_requests_total",
    "http_request_duration_seconds",
    *PLANNED_METRICS,
    "rabbitmq_queue_messages_ready",
}
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total")
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
PACKAGES = ("common", *SETTINGS)


@cache
def prometheus_config() -> dict[str, Any]:
    loaded = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert isinstance(loaded, dict)
    return loaded


def scrape_targets() -> list[tuple[str, str, str, int]]:
    """(job, metrics path, host, port) of every static target."""
    targets = []
    for job in prometheus_config()["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets.append((job["job_name"], job.get("metrics_path", "/metrics"), host, int(port)))
    return targets


@cache
def exported_metrics() -> frozenset[str]:
    """The metric names the code registers: prometheus_client's constructors, and the
    request metrics of Litestar's prometheus middleware under the prefix it is given."""
    names = set()
    constructor = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary)\(\s*(?:name\s*=\s*)?[\"']([a-zA-Z_:][\w:]*)[\"']")
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            text = source.read_text()
            names.update(constructor.findall(text))
            for prefix in re.findall(r"PrometheusConfig\([^)]*\bprefix=[\"'](\w+)[\"']", text, re.DOTALL):
                names.update(
                    f"{prefix}_{name}"
                    for name in (
                        "requests_total",
                        "request_duration_seconds",
                        "requests_in_progress",
                        "requests_error_total",
                    )
                )
    return frozenset(names)


def metric_base(name: str) -> str:
    """A sample's metric family: ``x_bucket``, ``x_sum``... are ``x``; counters lose ``_total``."""
    for suffix in SAMPLE_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def known_metric(name: str) -> bool:
    known = exported_metrics() | PLANNED_METRICS | FOREIGN_METRICS
    return name in known or metric_base(name) in {metric_base(k) for k in known}


def promql_metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (label names, functions and keywords aside)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expression)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors ([5m], [$__rate_interval])
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    identifiers = re.findall(r"(?<![\w.$])([a-zA-Z_:][\w:]*)\b(?!\s*\()", text)
    return {name for name in identifiers if name not in PROMQL_KEYWORDS}


@cache
def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def dashboard_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def dashboard_expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL expression) of every query."""
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def grafana_provisioning(kind: str) -> list[dict[str, Any]]:
    items = []
    for path in sorted((GRAFANA / "provisioning" / kind).glob("*.y*ml")):
        items.extend(yaml.safe_load(path.read_text())[kind if kind == "datasources" else "providers"])
    return items


def container_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = source
    return mounts


def test_promql_metric_names_skip_functions_labels_and_ranges() -> None:
    expression = (
        'histogram_quantile(0.99, sum by (le, path) (rate(http_request_duration_seconds_bucket{app_name="x"}'
        '[$__rate_interval]))) / on (path) group_left sum(up{job=~"a|b"}) * 1e3'
    )

    assert promql_metric_names(expression) == {"http_request_duration_seconds_bucket", "up"}


def test_prometheus_config_is_mounted_where_prometheus_reads_it() -> None:
    prometheus = services()["prometheus"]
    config_flag = next(arg for arg in prometheus["command"] if arg.startswith("--config.file="))

    assert container_mounts(prometheus)[config_flag.partition("=")[2]] == "./deploy/prometheus/prometheus.yml"


def test_prometheus_scrapes_every_long_running_service_on_its_port() -> None:
    targets = scrape_targets()
    for job, _, host, _ in targets:
        assert host in services(), f"job {job}: {host} is no compose service"
    scraped = {host for _, _, host, _ in targets}
    long_running = {name for name, service in image_services().items() if service.get("restart") != "no"}

    assert long_running <= scraped, f"Prometheus does not scrape {sorted(long_running - scraped)}"
    assert "rabbitmq" in scraped


@pytest.mark.parametrize(("job", "path", "host", "port"), scrape_targets())
def test_a_scrape_target_is_a_port_and_path_its_service_serves(job: str, path: str, host: str, port: int) -> None:
    service = services()[host]
    if host == "rabbitmq":
        assert port == RABBITMQ_PROMETHEUS_PORT, f"job {job}: RabbitMQ's prometheus plugin listens on 15692"
        # per queue: the aggregated /metrics has no queue label
        assert path == "/metrics/per-object"
        return
    assert host in image_services(), f"job {job}: no known metrics endpoint on {host}"
    for module, settings in zip(modules_run(service), settings_for(service), strict=True):
        metrics = settings.metrics_address
        assert metrics is not None, f"job {job}: {module} serves no metrics"
        assert metrics[1] == port, f"job {job}: {host}'s metrics listen on {metrics[1]}, not {port}"
        assert metrics[1] != settings.port, f"job {job}: {host}'s metrics share its service port"
        assert path == "/metrics", f"job {job}: {module}'s metrics listener serves /metrics"
        assert "/metrics" not in served_paths(module), f"{module} serves /metrics on its service port too"


def test_grafana_provisions_prometheus_and_the_dashboards_compose_mounts() -> None:
    grafana = services()["grafana"]
    mounts = container_mounts(grafana)
    assert mounts.get("/etc/grafana/provisioning") == "./deploy/grafana/provisioning"

    (datasource,) = grafana_provisioning("datasources")
    url = urlsplit(datasource["url"])
    assert (datasource["type"], url.hostname, url.port) == ("prometheus", "prometheus", PROMETHEUS_PORT)
    assert depends_on(grafana).get("prometheus") == "service_healthy"

    (provider,) = grafana_provisioning("dashboards")
    assert mounts.get(provider["options"]["path"]) == "./deploy/grafana/dashboards"


def test_the_dashboards_parse_and_query_the_provisioned_datasource() -> None:
    uids = {datasource["uid"] for datasource in grafana_provisioning("datasources")}
    assert dashboards(), "no dashboard under deploy/grafana/dashboards"

    for name, dashboard in dashboards().items():
        panel_ids = [panel["id"] for panel in dashboard_panels(dashboard)]
        assert len(panel_ids) == len(set(panel_ids)), f"{name}: panel ids repeat"
        for panel in dashboard_panels(dashboard):
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, f"{name}: {panel['title']} is too wide"
            for source in [panel.get("datasource"), *(target.get("datasource") for target in panel.get("targets", []))]:
                assert source is None or source["uid"] in uids, f"{name}: {panel['title']} queries {source}"


def test_the_dashboards_query_only_metrics_that_are_exported() -> None:
    for name, dashboard in dashboards().items():
        for title, expression in dashboard_expressions(dashboard):
            unknown = {metric for metric in promql_metric_names(expression) if not known_metric(metric)}
            assert not unknown, f"{name}: {title!r} queries {sorted(unknown)}, which nothing exports"


def test_the_dashboard_shows_every_metric_the_issue_asks_for() -> None:
    shown = {
        metric_base(metric)
        for dashboard in dashboards().values()
        for _, expression in dashboard_expressions(dashboard)
        for metric in promql_metric_names(expression)
    }

    assert {metric_base(metric) for metric in DASHBOARD_METRICS} <= shown


def test_the_queue_depth_panel_looks_at_the_services_vhost() -> None:
    vhost = urlsplit(read_env_file(DEPLOY / "compose.env")["VIDMP3_RABBIT_URL"]).path.lstrip("/")
    queries = [
        expression
        for dashboard in dashboards().values()
        for _, expression in dashboard_expressions(dashboard)
        if "rabbitmq_queue_messages_ready" in expression
    ]

    assert queries
    assert all(f'vhost="{vhost}"' in expression for expression in queries)
