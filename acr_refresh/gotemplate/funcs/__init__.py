"""Template function libraries, one module per family, and the maps built from them.

A function is a :class:`Func`: its Go parameter kinds (so arguments are checked and constants converted as
Go does) and a Python implementation taking the evaluated arguments. :data:`BUILTINS` is Go's own set;
:data:`ESO` is what ESO's engine v2 offers (Go's builtins, then Sprig's text functions, which win on a shared
name); :data:`REFUSED` names functions ESO has that we refuse, with the reason. Adding a family is one module
here and one line in :data:`ESO`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Func:
    """A template function. ``params``: one letter per Go parameter, ``s`` string, ``i`` int, ``f`` float64,
    ``b`` bool, ``m`` map[string]interface {}, ``l`` []interface {}, ``a`` interface {}; a trailing ``*``
    makes the letter before it variadic (``"sa*"`` is Go's ``func(string, ...interface{})``)."""

    params: str
    impl: Callable[[list[Any]], Any]

    @property
    def arity(self) -> tuple[int, int | None]:
        """(fixed parameters, None when variadic else the same number)."""
        if self.params.endswith("*"):
            return len(self.params) - 2, None
        return len(self.params), len(self.params)

    def kinds(self, nargs: int) -> str:
        """The parameter letter for each of ``nargs`` arguments."""
        p = self.params
        return p[:-2] + p[-2] * (nargs - len(p) + 2) if p.endswith("*") else p


@dataclass(frozen=True, slots=True)
class Soft:
    """A result Sprig returns instead of failing (``b64dec``'s error text, ``fromJson``'s nil): the executor
    uses ``value`` and reports ``reason`` (value-free) as a soft failure, which ``validate`` shows as a warning."""

    value: Any
    reason: str


from . import (  # noqa: E402
    builtins,
    eso,
    sprig_crypto,
    sprig_dates,
    sprig_defaults,
    sprig_dicts,
    sprig_encoding,
    sprig_lists,
    sprig_numeric,
    sprig_paths,
    sprig_reflect,
    sprig_regex,
    sprig_strings,
)

BUILTINS: dict[str, Func] = dict(builtins.FUNCS)
#: Sprig's text function map as ESO v2.9.0 vendors it (env, expandenv and getHostByName removed by ESO)
SPRIG: dict[str, Func] = {**sprig_strings.FUNCS, **sprig_encoding.FUNCS, **sprig_defaults.FUNCS,
                          **sprig_dicts.FUNCS, **sprig_lists.FUNCS, **sprig_numeric.FUNCS, **sprig_reflect.FUNCS,
                          **sprig_paths.FUNCS, **sprig_regex.FUNCS, **sprig_dates.FUNCS, **sprig_crypto.FUNCS}
#: ESO's own functions (runtime/template/v2: PKCS#12, PEM, JWK, YAML, RSA)
ESO_OWN: dict[str, Func] = dict(eso.FUNCS)
ESO: dict[str, Func] = {**BUILTINS, **ESO_OWN, **SPRIG}
REFUSED: dict[str, str] = {
    "env": "templates never read the environment",
    "expandenv": "templates never read the environment",
    "getHostByName": "no DNS lookups from templates",
}

__all__ = ["BUILTINS", "ESO", "ESO_OWN", "REFUSED", "SPRIG", "Func", "Soft"]
