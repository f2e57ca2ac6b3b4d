"""The CronJob image, run as a CronJob runs it: uid 10001, read-only root, config mounted read-only.

Run by ``scripts/image-test.sh`` (``make test-image``), which builds the image and sets
``ACR_REFRESH_IMAGE`` (the image), ``ACR_REFRESH_IMAGE_BASE`` (the base it was built from) and
``ACR_REFRESH_IMAGE_PODMAN`` (podman with a private configuration and store). Skipped without them.
The emulator runs on the host's loopback; containers share the host network, so its proxy, identity
endpoint and API server are reached at the same 127.0.0.1 addresses as from the host.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from acr_refresh import __version__
from acr_refresh.emulator import Emulator
from tests.conftest import SP_CLIENT, SP_SECRET, acr_generator, write_config

IMAGE = os.environ.get("ACR_REFRESH_IMAGE", "")
BASE = os.environ.get("ACR_REFRESH_IMAGE_BASE", "")
PODMAN = os.environ.get("ACR_REFRESH_IMAGE_PODMAN", "")
pytestmark = pytest.mark.skipif(not IMAGE, reason="needs a built image: run `make test-image`")

# What the CronJob's pod spec does (deploy/kubernetes/cronjob.yaml): runAsNonRoot, no capabilities, no
# privilege escalation, a read-only root filesystem with an emptyDir at /tmp, the config read-only.
LOCKED_DOWN = ["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:size=16m", "--cap-drop", "all",
               "--security-opt", "no-new-privileges", "--network", "host"]
CA_IN_CONTAINER = "/etc/acr-refresh-test/ca.pem"
KUBECONFIG_IN_CONTAINER = "/etc/acr-refresh-test/kubeconfig"
PULL_SECRET = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\n"
               "spec:\n  generatorRef: {name: gen}\n  namespaces: [default]\n")


def podman(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout)


@dataclass
class Job:
    """How to run the image against the emulator: mounts and environment, as a CronJob would set them."""

    options: list[str]

    def command(self, name: str, *args: str) -> list[str]:
        return [PODMAN, "run", "--rm", "--name", name, *LOCKED_DOWN, *self.options, IMAGE, *args]


@pytest.fixture(scope="module", autouse=True)
def check_setup() -> None:
    if not PODMAN or not os.access(PODMAN, os.X_OK):
        pytest.fail(f"ACR_REFRESH_IMAGE is set but ACR_REFRESH_IMAGE_PODMAN ({PODMAN!r}) is not an executable")


@pytest.fixture
def job(em: Emulator, tmp_path: Path) -> Iterator[Job]:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    write_config(config_dir, acr_generator(), PULL_SECRET)
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    kubeconfig = Path(em.write_kubeconfig(mounted / "kubeconfig"))
    (mounted / "ca.pem").write_bytes(Path(em.ca_bundle_path).read_bytes())
    readable_by_the_container(config_dir, *config_dir.iterdir(), mounted, kubeconfig, mounted / "ca.pem")
    env = {**{k: v for k, v in em.env().items() if k in ("HTTPS_PROXY", "NO_PROXY")},
           "REQUESTS_CA_BUNDLE": CA_IN_CONTAINER, "SSL_CERT_FILE": CA_IN_CONTAINER,
           "KUBECONFIG": KUBECONFIG_IN_CONTAINER, "SP_ID": SP_CLIENT, "SP_SECRET": SP_SECRET,
           "ACR_REFRESH_OUTPUT": "json"}
    options = ["-v", f"{config_dir}:/config:ro", "-v", f"{mounted}:/etc/acr-refresh-test:ro"]
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    yield Job(options)


def readable_by_the_container(*paths: Path) -> None:
    """The container runs as uid 10001: let it read what a ConfigMap or Secret volume would give it
    (pytest's temporary directories are private to their owner)."""
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)
        for parent in path.parents:
            mode = parent.stat().st_mode
            if mode & 0o011 != 0o011:
                parent.chmod((mode & 0o7777) | 0o011)


def name() -> str:
    return f"acr-refresh-test-{secrets.token_hex(4)}"


def test_version_and_help_as_uid_10001() -> None:
    inspect = podman("image", "inspect", "--format", "{{.Config.User}}", IMAGE)
    assert inspect.stdout.strip() == "10001:10001"
    ids = podman("run", "--rm", *LOCKED_DOWN, "--entrypoint", "python", IMAGE, "-c",
                 "import os; print(os.getuid(), os.getgid())")
    assert ids.stdout.split() == ["10001", "10001"], ids.stderr
    version = podman("run", "--rm", *LOCKED_DOWN, IMAGE, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"acr-refresh {__version__}"
    helped = podman("run", "--rm", *LOCKED_DOWN, IMAGE, "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: acr-refresh")
    assert all(word in helped.stdout for word in ("run", "validate", "Exit status"))


def test_run_writes_the_secret_report_on_stdout_json_logs_on_stderr(em: Emulator, job: Job) -> None:
    # The image's own CMD (run --config /config --log-format json), as the CronJob's args give it.
    done = subprocess.run(job.command(name()), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON document
    assert report["ok"] is True
    [gen] = report["generators"]
    assert gen["status"] == "ok"
    assert [(t["namespace"], t["status"]) for t in gen["targets"]] == [("default", "written")]
    logs = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert logs, "no logs on stderr"
    assert any("written" in json.dumps(entry) for entry in logs)
    assert SP_SECRET not in done.stdout + done.stderr
    assert em.get_object("secrets", "default", "pull") is not None


def test_invalid_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad"
    config.mkdir()
    (config / "gen.yaml").write_text(acr_generator(registry="https://myregistry.azurecr.io/"))
    readable_by_the_container(config, config / "gen.yaml")
    done = podman("run", "--rm", *LOCKED_DOWN, "-v", f"{config}:/config:ro", IMAGE,
                  "run", "--config", "/config", "--log-format", "json")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "gen.yaml" in done.stderr and "registry" in done.stderr


def test_sigterm_during_a_stalled_login_exits_143_with_the_report_within_seconds(em: Emulator, job: Job) -> None:
    em.fail("entra.token", status=None, delay=120, count=None)
    container = name()
    proc = subprocess.Popen(job.command(container), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while em.counts["entra.token"] < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert em.counts["entra.token"] >= 1, "the login never started"
        signalled = time.monotonic()
        # What the kubelet does: SIGTERM to the container's PID 1, which is acr-refresh itself.
        assert podman("kill", "--signal", "TERM", container).returncode == 0
        out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
        em.clear_faults()
    print(f"SIGTERM to exit: {elapsed:.2f} s")
    assert proc.returncode == 143, err
    assert elapsed < 5, f"{elapsed:.1f} s from SIGTERM to exit (the CronJob allows 40 s; a stalled login has ~85 s)"
    report = json.loads(out)
    [gen] = report["generators"]
    assert gen["status"] == "failed" and "shutdown" in gen["error"]
    assert any('"SIGTERM"' in line for line in err.splitlines())


def test_the_image_holds_no_build_time_secret_or_ca() -> None:
    """The host's pip configuration, local indexes and CA bundle were mounted for the build's RUN steps only."""
    script = r"""
        set -e
        for p in /etc/pip.conf /etc/xdg/pip /usr/local/pip.conf /root/.config /root/.pip /root/.cache /root/host \
                 /src /install /opt/pypi /opt/wheels; do
            [ ! -e "$p" ] || echo "present: $p"
        done
        echo "root: $(ls -A /root | tr '\n' ' ')"
        sha256sum /etc/ssl/certs/ca-certificates.crt
    """
    done = podman("run", "--rm", "--network", "host", "--user", "0", "--entrypoint", "sh", IMAGE, "-c", script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("present")] == []
    base = podman("run", "--rm", "--network", "host", "--user", "0", "--entrypoint", "sh", BASE, "-c",
                  script).stdout.splitlines()
    assert lines[-2] == base[-2], "/root differs from the base image's (the build's home was mounted there)"
    assert lines[-1] == base[-1], "the image's CA bundle is not the base image's"
    # No certificate that the build machine added to its trust store (Debian keeps local CAs in
    # /usr/local/share/ca-certificates), anywhere in the image. The needle is a line of each signature.
    pem = re.compile(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", re.S)
    local = [p for p in Path("/usr/local/share/ca-certificates").rglob("*.crt") if p.is_file()]
    needles = [body.strip().split("\n")[-2] for p in local for body in pem.findall(p.read_text(errors="replace"))
               if body.count("\n") > 3]
    if needles:
        found = podman("run", "--rm", "--network", "host", "--user", "0", "--entrypoint", "grep", IMAGE,
                       "-rlF", "--exclude-dir=proc", "--exclude-dir=sys", "--exclude-dir=dev",
                       *[f"-e{n}" for n in needles], "/", timeout=120)
        assert found.returncode == 1 and found.stdout == "", f"the build machine's CA found in: {found.stdout}"
    config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
    names = {e.split("=", 1)[0] for e in config.get("Env", [])}
    assert names <= {"PATH", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}, names
