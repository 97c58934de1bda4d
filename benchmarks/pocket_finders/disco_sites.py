"""Our own site search (docking/inference/site_search.py) as a `--finders` entry: the sites blind docking
searches, in the order it searches them."""

from __future__ import annotations

from data_prep.protein import read_heavy_atoms
from docking.inference.site_search import candidate_sites


def site_centres(protein_path: str, max_sites: int) -> list[tuple[float, float, float]]:
    """The first `max_sites` blind-docking sites (pockets at least 8 A apart; none when the protein has no pocket,
    which blind docking refuses)."""
    return [tuple(site.center) for site in candidate_sites(read_heavy_atoms(protein_path).pos, max_sites)]
