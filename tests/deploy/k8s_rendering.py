"""deploy/k8s rendered by ``kubectl kustomize`` and read as the cluster would: objects by kind and
component, each container's environment from its ConfigMaps and Secrets, the files its volumes
mount, and whether a variable names a setting."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from fixative.config import Settings

PREFIX = "FIXATIVE_"
# read by fixative.config.active_config_path to find the settings file; not a Settings field
NON_FIELD_VARIABLES = frozenset({"FIXATIVE_CONFIG"})
POD_KINDS = ("Deployment", "Job")
Obj = dict[str, Any]


@dataclass(frozen=True)
class Rendering:
    name: str
    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def find(self, kind: str, name: str) -> Obj | None:
        return next((o for o in self.of_kind(kind) if o["metadata"]["name"] == name), None)

    def get(self, kind: str, name: str) -> Obj:
        found = self.find(kind, name)
        assert found is not None, f"{self.name}: no {kind} {name!r} in the rendering"
        return found

    def workload(self, component: str) -> Obj:
        found = [
            o
            for o in self.objects
            if o["kind"] in POD_KINDS and labels(o).get("app.kubernetes.io/component") == component
        ]
        assert len(found) == 1, f"{self.name}: {len(found)} workloads of component {component}"
        return found[0]

    def pods(self) -> Iterator[tuple[Obj, Obj]]:
        """(workload, pod spec) for every object that runs pods."""
        for o in self.objects:
            if o["kind"] in POD_KINDS:
                yield o, o["spec"]["template"]["spec"]

    def containers(self) -> Iterator[tuple[Obj, Obj, Obj]]:
        for workload, pod in self.pods():
            for container in pod.get("initContainers", []) + pod["containers"]:
                yield workload, pod, container

    def config_data(self, name: str) -> dict[str, str]:
        return dict(self.get("ConfigMap", name).get("data", {}))

    def secret_data(self, name: str) -> dict[str, str]:
        secret = self.get("Secret", name)
        decoded = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        return decoded | secret.get("stringData", {})


def labels(obj: Obj) -> dict[str, str]:
    return dict(obj["metadata"].get("labels", {}))


def ident(obj: Obj) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail(
            "kubectl is not on PATH: these tests render deploy/k8s with `kubectl kustomize` "
            "(kustomize is built into kubectl); install kubectl 1.27 or newer"
        )
    return path


def render(directory: Path) -> list[Obj]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return [o for o in yaml.safe_load_all(done.stdout) if o]


def only_container(workload: Obj) -> Obj:
    """The one container of a workload's pods."""
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, ident(workload)
    return dict(containers[0])


def option(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def port_number(container: Obj, port: int | str) -> int:
    """A port given by number or by the container's port name -> its number."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"no container port named {port!r}"
    return int(named[port])


def is_setting(variable: str) -> bool:
    """FIXATIVE_<FIELD>[__<NESTED>...] naming a field of Settings (or of a nested model)."""
    if variable in NON_FIELD_VARIABLES:
        return True
    if not variable.startswith(PREFIX):
        return False
    model: type[BaseModel] | None = Settings
    for part in variable[len(PREFIX) :].lower().split("__"):
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation if nested else None
    return True


def variable_names(rendering: Rendering, container: Obj) -> list[str]:
    names = [v["name"] for v in container.get("env", [])]
    for source in container.get("envFrom", []):
        assert "prefix" not in source
        if "configMapRef" in source:
            names += rendering.config_data(source["configMapRef"]["name"])
        if "secretRef" in source:
            names += rendering.secret_data(source["secretRef"]["name"])
    return names


def references(pod: Obj) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret and claim a pod spec names."""
    for container in pod.get("initContainers", []) + pod["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"]
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"]
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"]
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"]
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"]
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                yield "ConfigMap", source["configMap"]["name"]
            if "secret" in source:
                yield "Secret", source["secret"]["name"]
    for pull in pod.get("imagePullSecrets", []):
        yield "Secret", pull["name"]


def environment(rendering: Rendering, container: Obj) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= rendering.config_data(source["configMapRef"]["name"])
        if "secretRef" in source:
            env |= rendering.secret_data(source["secretRef"]["name"])
    for variable in container.get("env", []):
        ref = variable.get("valueFrom", {})
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "configMapKeyRef" in ref:
            key = ref["configMapKeyRef"]
            env[variable["name"]] = rendering.config_data(key["name"])[key["key"]]
        elif "secretKeyRef" in ref:
            key = ref["secretKeyRef"]
            env[variable["name"]] = rendering.secret_data(key["name"])[key["key"]]
    return env


def mounted_file(rendering: Rendering, pod: Obj, container: Obj, path: str) -> str:
    """The text a container reads at ``path``, from the ConfigMap volume mounted there."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    wanted = PurePosixPath(path)
    for mount in container.get("volumeMounts", []):
        config_map = volumes[mount["name"]].get("configMap")
        if config_map is None:
            continue
        data = rendering.config_data(config_map["name"])
        files = {i["path"]: i["key"] for i in config_map.get("items", [])} or {k: k for k in data}
        if "subPath" in mount and PurePosixPath(mount["mountPath"]) == wanted:
            return data[files[mount["subPath"]]]
        if "subPath" not in mount and wanted.parent == PurePosixPath(mount["mountPath"]):
            assert wanted.name in files, f"{config_map['name']} holds no {wanted.name}"
            return data[files[wanted.name]]
    raise AssertionError(f"nothing is mounted at {path}")


def writable(pod: Obj, container: Obj, path: Path) -> bool:
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return any(
        Path(m["mountPath"]) == path
        and not m.get("readOnly", False)
        and ("emptyDir" in volumes[m["name"]] or "persistentVolumeClaim" in volumes[m["name"]])
        for m in container.get("volumeMounts", [])
    )
