"""Pocket finders that `disco bench pockets --finders` can score side by side with our site search.

Why a registry: the third-party finders are optional (none is a dependency of the project), so the benchmark
must name a missing one with the pip command that installs it before it starts, instead of failing with an
ImportError deep in the loop. Each finder lives in its own module and exposes
`site_centres(protein_path, max_sites) -> list of (x, y, z)`, best site first, as that finder ranks them.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable

from disco_core.errors import InputError

Centre = tuple[float, float, float]


@dataclass(frozen=True)
class FinderSpec:
    name: str              # as given to --finders
    module: str            # our adapter module
    requires: str          # the import name of the package it needs ("" for ours)
    pip: str               # what installs that package
    ranking: str           # how its sites are ordered (for the report)


FINDERS = {
    spec.name: spec for spec in (
        FinderSpec("disco", "benchmarks.pocket_finders.disco_sites", "", "",
                   "our LIGSITE-style site search, ranked by core buriedness (docking/inference/site_search.py)"),
        FinderSpec("pykvfinder", "benchmarks.pocket_finders.kvfinder_sites", "pyKVFinder",
                   "pip install pyKVFinder", "pyKVFinder cavities, ranked by volume (largest first)"),
        FinderSpec("fpocket-rs", "benchmarks.pocket_finders.fpocket_rs_sites", "fpocket_rs",
                   "pip install fpocket-rs", "fpocket-rs (fpocket port) pockets, in its own rank (fpocket score)"),
        FinderSpec("pocketeer", "benchmarks.pocket_finders.pocketeer_sites", "pocketeer",
                   "pip install pocketeer", "pocketeer pockets, in its own order (its score, highest first)"),
    )
}


def is_installed(name: str) -> bool:
    """Whether a registered finder can run here (ours always can)."""
    spec = FINDERS[name]
    return not spec.requires or importlib.util.find_spec(spec.requires) is not None


def parse_finders(text: str) -> tuple[str, ...]:
    """The finders of a comma-separated --finders value, checked: an unknown or uninstalled one is an InputError
    naming it (and the pip command), raised before any complex is run."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if not names:
        raise InputError("--finders", "names no finder")
    for name in names:
        spec = FINDERS.get(name)
        if spec is None:
            raise InputError("--finders", f"unknown finder {name!r} (choose from {', '.join(FINDERS)})")
        if not is_installed(name):
            raise InputError("--finders", f"{name} is not installed: {spec.pip} (or pip install '.[pockets]')")
    return names


def finder(name: str) -> Callable[[str, int], list[Centre]]:
    """The `site_centres` function of a registered finder (its module imported only now)."""
    return importlib.import_module(FINDERS[name].module).site_centres
