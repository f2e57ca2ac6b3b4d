"""Two targets, one Secret: which targets may share a cluster/namespace/name. Pure.

Two targets that resolve to the same Secret would overwrite each other on every run (two registries'
tokens, flipping). They may share it only when every one of them is ``Merge``/``CreateOrMerge`` and their data
keys are disjoint. Targets with fixed namespaces are checked when the config is read (refused in config);
selector targets when they are expanded (each conflicting target fails in that namespace, naming the others).
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import DOCKERCONFIGJSON, MERGING_CREATION_POLICIES, ConfigError, KubernetesTarget


def data_keys(target: KubernetesTarget) -> frozenset[str] | None:
    """The data keys a target writes (after ``dataFrom[].rewrite``), or None when only a run knows them (a
    ``templateFrom`` into Data renders its keys from a template)."""
    tpl = target.template
    generated = {new for _, new in target.key_names}
    if not tpl.data and not tpl.template_from:
        return frozenset({".dockerconfigjson"} if (tpl.type or "Opaque") == DOCKERCONFIGJSON
                         and not target.rewrites else generated)
    if any(t.target == "Data" for t in tpl.template_from):
        return None
    keys = {k for k, _ in tpl.data or ()}
    if tpl.merge_policy == "Merge":
        keys |= generated
    return frozenset(keys)


def may_share(targets: list[KubernetesTarget]) -> bool:
    """Every target merges, and no data key is written by two of them."""
    if len(targets) < 2:
        return True
    if any(t.creation_policy not in MERGING_CREATION_POLICIES for t in targets):
        return False
    seen: set[str] = set()
    for t in targets:
        keys = data_keys(t)
        if keys is None:  # known at run time only: the write refuses a key another sharer's record holds
            continue
        if keys & seen:
            return False
        seen |= keys
    return True


def conflicts(places: Iterable[tuple[tuple[str, str, str], KubernetesTarget]]
              ) -> dict[tuple[str, str, str], list[KubernetesTarget]]:
    """``(cluster, namespace, name)`` -> the targets that may not share it."""
    by_place: dict[tuple[str, str, str], list[KubernetesTarget]] = {}
    for place, target in places:
        if target not in by_place.setdefault(place, []):
            by_place[place].append(target)
    return {p: ts for p, ts in by_place.items() if not may_share(ts)}


def check_static(targets: Iterable[KubernetesTarget]) -> None:
    """Refuse (ConfigError, naming the second target's file, document and field) two targets whose fixed
    namespaces resolve to the same Secret, unless they may share it."""
    places = [((c, ns, t.secret_name), t) for t in targets if not t.selectors
              for c in t.clusters for ns in t.namespaces if ns not in t.exclude_namespaces]
    for (cluster, ns, name), clash in conflicts(places).items():
        first, second = clash[0], clash[1]
        field = "spec.target.name" if second.source_kind == "ExternalSecret" else "spec.name"
        raise ConfigError(
            f"{second.key} writes Secret {cluster}/{ns}/{name}, as {first.key} ({first.location}) does: two "
            "targets may share a Secret only when all are Merge/CreateOrMerge with disjoint data keys",
            location=second.location, field=field)
