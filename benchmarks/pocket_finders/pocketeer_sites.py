"""pocketeer (an fpocket-style alpha-sphere finder in NumPy; `pip install pocketeer`) as a `--finders` entry:
its pockets in its own order (its score, highest first), a site's centre its `centroid` (the mean of the
pocket's alpha-sphere centres). pocketeer's default parameters; hetero atoms ignored, as pocketeer does by
default."""

from __future__ import annotations

import pocketeer  # an optional finder: this module is imported only when --finders names it


def site_centres(protein_path: str, max_sites: int) -> list[tuple[float, float, float]]:
    """Centroids of pocketeer's `max_sites` best pockets."""
    pockets = pocketeer.find_pockets(pocketeer.load_structure(protein_path))
    return [tuple(float(v) for v in pocket.centroid) for pocket in pockets[:max_sites]]
