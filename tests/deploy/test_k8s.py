"""deploy/k8s as ``kubectl kustomize`` renders it, the base and the example overlay: every object
valid for the pinned Kubernetes version (strict: an unknown or misspelt field fails), and the
properties the deployment relies on: probes on the served port that pass without a token, one
beat, the autoscaler on the workers, the migration Job, non-root pods, every variable a real
setting, every reference resolvable, and the mounted settings file loading as each pod loads it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
from k8s_rendering import (
    PREFIX,
    Rendering,
    environment,
    ident,
    is_setting,
    labels,
    mounted_file,
    only_container,
    option,
    port_number,
    references,
    render,
    variable_names,
    writable,
)

from fixative.config import load_settings

# The oldest Kubernetes minor the manifests are written for; every field used exists there.
KUBERNETES_VERSION = "1.31.0"
K8S_DIR = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


@pytest.fixture(scope="module")
def renderings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendering]:
    # the overlay as a user runs it: a copy with secrets.env made from the committed example
    copy = tmp_path_factory.mktemp("deploy") / "k8s"
    shutil.copytree(K8S_DIR, copy, ignore=shutil.ignore_patterns("secrets.env"))
    overlay = copy / "overlays" / "example"
    shutil.copy(overlay / "secrets.env.example", overlay / "secrets.env")
    return {
        "base": Rendering("base", render(K8S_DIR / "base")),
        "example": Rendering("example", render(overlay)),
    }


@pytest.fixture(params=["base", "example"])
def rendering(request: pytest.FixtureRequest, renderings: dict[str, Rendering]) -> Rendering:
    return renderings[request.param]


@pytest.fixture
def example(renderings: dict[str, Rendering]) -> Rendering:
    return renderings["example"]


# -- the schemas -------------------------------------------------------------------------------


def test_every_object_is_valid_for_the_pinned_kubernetes(rendering: Rendering) -> None:
    kinds = {o["kind"] for o in rendering.objects}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "Job"} <= kinds
    assert {"ConfigMap", "Secret", "PersistentVolumeClaim", "PodDisruptionBudget"} <= kinds
    for obj in rendering.objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            pytest.fail(f"{rendering.name}: {ident(obj)} at {path}: {exc.message}")


def test_selectors_match_their_pod_templates_and_labels_name_the_app(rendering: Rendering) -> None:
    for obj in rendering.objects:
        assert labels(obj).get("app.kubernetes.io/name") == "fixative", ident(obj)
    for workload, _pod in rendering.pods():
        template_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert template_labels.get("app.kubernetes.io/component"), ident(workload)
        selector = workload["spec"].get("selector", {}).get("matchLabels", {})
        assert selector.items() <= template_labels.items(), ident(workload)


# -- the API -------------------------------------------------------------------------------


def test_api_serves_all_addresses_on_its_container_port(rendering: Rendering) -> None:
    api = only_container(rendering.workload("api"))
    command = api["command"]
    assert command[:2] == ["fixative", "serve"]
    assert option(command, "--host") == "0.0.0.0"
    assert int(option(command, "--workers")) >= 2  # gunicorn, not the one-process server
    assert [p["containerPort"] for p in api["ports"]] == [int(option(command, "--port"))]


def test_api_probes_hit_health_on_the_served_port(rendering: Rendering) -> None:
    api = only_container(rendering.workload("api"))
    served = int(option(api["command"], "--port"))
    expected = {
        "readinessProbe": "/health/ready",
        "livenessProbe": "/health/live",
        "startupProbe": "/health/live",
    }
    for probe, path in expected.items():
        get = api[probe]["httpGet"]
        assert get["path"] == path, probe
        assert port_number(api, get["port"]) == served, probe
        assert get.get("scheme", "HTTP") == "HTTP", probe


def test_probe_paths_answer_without_a_token_when_tokens_are_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pods run with auth = "tokens"; a probe sends no token, so its paths must be public."""
    from fixative.api.app import create_app
    from fixative.api.services import build_services
    from fixative.bootstrap import live_store

    _clear_settings_environment(monkeypatch)
    settings = load_settings(home=tmp_path, auth="tokens")
    live_store(settings, create=True).dispose()  # what the pods' `fixative init` job does
    services = build_services(settings)
    try:
        client = create_app(services=services).test_client()
        for path in ("/health/ready", "/health/live"):
            assert client.get(path).status_code == 200, path
        assert client.get("/info/api/v2/datastacks").status_code == 401
    finally:
        services.close()
        services.store.dispose()


def test_service_selects_the_api_pods_and_reaches_the_served_port(rendering: Rendering) -> None:
    deployment = rendering.workload("api")
    service = rendering.get("Service", deployment["metadata"]["name"])
    selector = service["spec"]["selector"]
    for workload, _pod in rendering.pods():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selected = selector.items() <= labels.items()
        assert selected == (workload is deployment), f"the Service selects {ident(workload)}"
    api = only_container(deployment)
    served = int(option(api["command"], "--port"))
    for port in service["spec"]["ports"]:
        assert port_number(api, port.get("targetPort", port["port"])) == served


def test_ingress_routes_to_the_api_service_port(rendering: Rendering) -> None:
    (ingress,) = rendering.of_kind("Ingress")
    service = rendering.get("Service", rendering.workload("api")["metadata"]["name"])
    ports = service["spec"]["ports"]
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths, "the Ingress routes nothing"
    for path in paths:
        backend = path["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"]
        wanted = backend["port"]
        if "name" in wanted:
            assert wanted["name"] in [p.get("name") for p in ports], wanted
        else:
            assert wanted["number"] in [p["port"] for p in ports], wanted


# -- workers, beat, the migration ---------------------------------------------------------


def test_worker_autoscaler_targets_the_worker_deployment(rendering: Rendering) -> None:
    worker = rendering.workload("worker")
    assert only_container(worker)["command"][:2] == ["fixative", "worker"]
    assert "replicas" not in worker["spec"], "the autoscaler owns the worker count"
    (hpa,) = rendering.of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert target["name"] == worker["metadata"]["name"]
    resources = [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert resources == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    requests = only_container(worker)["resources"]["requests"]
    assert "cpu" in requests, "CPU utilization is measured against the request"


def test_beat_is_one_pod_replaced_never_doubled(rendering: Rendering) -> None:
    beat = rendering.workload("beat")
    assert beat["kind"] == "Deployment"
    assert only_container(beat)["command"] == ["fixative", "beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in rendering.of_kind("HorizontalPodAutoscaler")
    }
    assert beat["metadata"]["name"] not in targets


def test_migration_job_runs_init_and_ends(rendering: Rendering) -> None:
    job = rendering.workload("migration")
    assert job["kind"] == "Job"
    assert only_container(job)["command"] == ["fixative", "init"]
    spec = job["spec"]
    assert 0 < spec["backoffLimit"] <= 10
    assert spec["ttlSecondsAfterFinished"] > 0
    assert spec["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


# -- security --------------------------------------------------------------------------------


def test_every_container_runs_as_non_root_on_a_read_only_root(rendering: Rendering) -> None:
    for workload, pod, container in rendering.containers():
        where = f"{ident(workload)} {container['name']}"
        context = pod.get("securityContext", {}) | container.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, where
        assert context.get("runAsUser", 1) != 0, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert "ALL" in context.get("capabilities", {}).get("drop", []), where
        assert pod.get("automountServiceAccountToken") is False, where
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        assert tmp, f"{where}: /tmp is not writable"
        assert "emptyDir" in volumes[tmp[0]["name"]], where
        assert "resources" in container, where
        assert {"cpu", "memory"} <= container["resources"].get("requests", {}).keys(), where
        assert "memory" in container["resources"].get("limits", {}), where


# -- settings -------------------------------------------------------------------------------


def test_the_settings_check_itself() -> None:
    assert is_setting("FIXATIVE_QUERY_ROW_LIMIT")
    assert is_setting("FIXATIVE_CONFIG")
    assert not is_setting("FIXATIVE_QUERY_ROWLIMIT")
    assert not is_setting("FIXATIVE_AUTH__MODE")
    assert not is_setting("QUERY_ROW_LIMIT")


def test_every_variable_set_is_a_setting(rendering: Rendering) -> None:
    for workload, pod, container in rendering.containers():
        unknown = [n for n in variable_names(rendering, container) if not is_setting(n)]
        assert not unknown, f"{ident(workload)}: not settings: {unknown}"
        # service links would add FIXATIVE_API_* variables (from the Service's name)
        assert pod.get("enableServiceLinks") is False, ident(workload)


def test_every_referenced_configmap_secret_and_claim_exists(rendering: Rendering) -> None:
    # the Ingress TLS Secret is left out: cert-manager makes it (overlays/example/ingress.yaml)
    for workload, pod in rendering.pods():
        refs = set(references(pod))
        assert ("Secret", "fixative-secrets") not in refs, "generator names carry their hash"
        for kind, name in refs:
            assert rendering.find(kind, name), f"{ident(workload)} names a missing {kind} {name}"


def _clear_settings_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith(PREFIX):
            monkeypatch.delenv(variable)


def test_every_container_loads_its_settings(
    rendering: Rendering, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each container's environment and mounted settings file, loaded as the pod loads them."""
    for workload, pod, container in rendering.containers():
        where = f"{ident(workload)} {container['name']}"
        env = environment(rendering, container)
        assert "FIXATIVE_CONFIG" in env, f"{where}: no settings file"
        text = mounted_file(rendering, pod, container, env["FIXATIVE_CONFIG"])
        settings_file = tmp_path / workload["metadata"]["name"] / "fixative.toml"
        settings_file.parent.mkdir()
        settings_file.write_text(text)
        _clear_settings_environment(monkeypatch)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FIXATIVE_CONFIG", str(settings_file))
        settings = load_settings()
        assert settings.auth == "tokens", where  # fixative serve binds 0.0.0.0 only with tokens
        assert settings.database_url.startswith("postgresql://"), where
        assert settings.broker_url.startswith("redis://"), where
        assert settings.home.is_absolute(), where
        assert writable(pod, container, settings.home), f"{where}: {settings.home} not writable"


def test_api_and_workers_share_the_data_claim(rendering: Rendering) -> None:
    claims = []
    for component in ("api", "worker"):
        pod = rendering.workload(component)["spec"]["template"]["spec"]
        container = only_container(rendering.workload(component))
        home = environment(rendering, container)["FIXATIVE_HOME"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == home]
        claims.append(volumes[mount["name"]]["persistentVolumeClaim"]["claimName"])
    assert claims[0] == claims[1]
    claim = rendering.get("PersistentVolumeClaim", claims[0])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


# -- the example overlay ------------------------------------------------------------------


def test_example_puts_everything_in_its_namespace(example: Rendering) -> None:
    (namespace,) = example.of_kind("Namespace")
    name = namespace["metadata"]["name"]
    for obj in example.objects:
        if obj is not namespace:
            assert obj["metadata"].get("namespace") == name, ident(obj)


def test_example_sets_image_replicas_host_and_secrets(example: Rendering) -> None:
    images = {c["image"] for _w, _p, c in example.containers()}
    assert len(images) == 1
    (image,) = images
    assert not image.startswith("fixative:"), "the overlay names the pushed image"
    assert ":" in image.rsplit("/", 1)[-1], f"{image}: no tag"
    assert example.workload("api")["spec"]["replicas"] == 3
    (ingress,) = example.of_kind("Ingress")
    assert all(rule.get("host") for rule in ingress["spec"]["rules"])
    (secret,) = example.of_kind("Secret")
    lines = (K8S_DIR / "overlays" / "example" / "secrets.env.example").read_text().splitlines()
    expected = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert example.secret_data(secret["metadata"]["name"]) == expected


def test_example_datastacks_give_beat_a_schedule(
    example: Rendering, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = example.workload("beat")
    container = only_container(beat)
    env = environment(example, container)
    text = mounted_file(
        example, beat["spec"]["template"]["spec"], container, env["FIXATIVE_CONFIG"]
    )
    (tmp_path / "fixative.toml").write_text(text)
    _clear_settings_environment(monkeypatch)
    settings = load_settings(tmp_path / "fixative.toml")
    assert settings.datastacks, "the example serves no datastack"
    assert any(ds.schedules for ds in settings.datastacks), "fixative beat exits without one"


def test_real_secrets_env_is_never_committed() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "deploy/k8s/overlays/example/secrets.env"],
        cwd=K8S_DIR.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"overlays/example/secrets.env is not git-ignored {done.stderr}"
