"""The host's effective pip configuration, as a home directory to bind-mount over ``/root`` in an image build.

    python3 scripts/image/pip_config.py HOME_DIR   -> writes HOME_DIR/.config/pip/pip.conf and prints
                                                       HOST_PATH:CONTAINER_PATH mounts, one a line

pip inside ``buildah bud`` must reach the package index the way this machine does (its index URLs, local
wheel directories, constraints, CA bundle, proxy) without any of it landing in the image. The build's RUN
steps see no host environment, so this merges pip's configuration files (global, user, ``PIP_CONFIG_FILE``)
and ``PIP_*`` variables, later ones winning as in pip, into one user configuration file.

Why a home directory: buildah 1.28 leaves an empty file or directory in the image for every mount target
that did not exist, in every stage. ``/root`` exists in any Debian image, so mounting HOME_DIR over it
leaves nothing behind, and the host paths the configuration names (absolute paths, ``file://`` URLs) are
mounted beneath it, at ``/root/host/<path>``, with the values rewritten to match: their mount points are
made inside HOME_DIR, on the host. Uses only the standard library: it runs with the host's ``python3``.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

ENV_SKIP = {"PIP_CONFIG_FILE", "PIP_REQUIRE_VIRTUALENV", "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT"}
CONTAINER_PREFIX = "/root/host"
SECTIONS = ("global", "install", "download", "wheel")  # what `pip install` reads, in order


def config_files(environ: dict[str, str]) -> list[Path]:
    """pip's configuration files in increasing priority (global, user, then PIP_CONFIG_FILE)."""
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    home = Path(environ.get("HOME", "/root"))
    user_dir = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs) if d]
    files += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf", user_dir / "pip" / "pip.conf"]
    if environ.get("PIP_CONFIG_FILE") and environ["PIP_CONFIG_FILE"] != os.devnull:
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return [f for f in files if f.is_file()]


def merged(environ: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for path in config_files(environ):
        parser = configparser.RawConfigParser()
        parser.read(path)
        for section in SECTIONS:
            if parser.has_section(section):
                values.update({k.replace("_", "-"): v for k, v in parser.items(section)})
    for name, value in sorted(environ.items()):
        if name.startswith("PIP_") and name not in ENV_SKIP:
            values[name[4:].lower().replace("_", "-")] = value
    if "proxy" not in values:
        proxy = environ.get("HTTPS_PROXY") or environ.get("https_proxy")
        if proxy:
            values["proxy"] = proxy
    if "cert" not in values:
        bundle = environ.get("PIP_CERT") or environ.get("REQUESTS_CA_BUNDLE") or environ.get("SSL_CERT_FILE")
        if bundle:
            values["cert"] = bundle
    return values


def host_paths(values: dict[str, str]) -> list[str]:
    """Existing absolute paths named by the values (``file://`` URLs included), outermost only.

    A local index (``file:///srv/pypi/simple``) usually links to its files by relative URLs
    (``../../files/...``), so the directory holding the index directory is mounted, not the index alone.
    """
    found: set[str] = set()
    for key, value in values.items():
        for token in value.split():
            path = unquote(urlparse(token).path) if token.startswith("file:") else token
            if not path.startswith("/") or not os.path.exists(path):
                continue
            path = os.path.normpath(path)
            if key.endswith("index-url") and os.path.isdir(path) and os.path.dirname(path) != "/":
                path = os.path.dirname(path)
            found.add(path)
    kept: list[str] = []
    for path in sorted(found):
        if not any(path.startswith(parent + "/") for parent in kept):
            kept.append(path)
    return kept


def rewritten(values: dict[str, str], paths: list[str], prefix: str) -> dict[str, str]:
    """The values with every host path under ``paths`` moved beneath ``prefix``."""
    def move(path: str) -> str:
        for root in paths:
            if path == root or path.startswith(root + "/"):
                return prefix + path
        return path

    out = {}
    for key, value in values.items():
        tokens = []
        for token in value.split():
            if token.startswith("file:"):
                tokens.append("file://" + move(os.path.normpath(unquote(urlparse(token).path))))
            elif token.startswith("/"):
                tokens.append(move(os.path.normpath(token)))
            else:
                tokens.append(token)
        out[key] = " ".join(tokens)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pip_config.py HOME_DIR", file=sys.stderr)
        return 2
    values = merged(dict(os.environ))
    paths = host_paths(values)
    conf = Path(argv[1]) / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {v}\n" for k, v in rewritten(values, paths, CONTAINER_PREFIX).items()]
    conf.write_text("[global]\n" + "".join(lines))
    conf.chmod(0o600)
    for path in paths:
        print(f"{path}:{CONTAINER_PREFIX}{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
