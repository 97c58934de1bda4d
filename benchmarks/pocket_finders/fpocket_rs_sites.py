"""fpocket-rs (a Rust port of fpocket, Le Guilloux et al. 2009; `pip install fpocket-rs`) as a `--finders`
entry: its pockets in its own rank (fpocket's pocket score), the centre of a pocket the mean of its alpha-sphere
centres (fpocket's pocket centre). fpocket's default parameters."""

from __future__ import annotations

import fpocket_rs  # an optional finder: this module is imported only when --finders names it
import numpy as np


def site_centres(protein_path: str, max_sites: int) -> list[tuple[float, float, float]]:
    """Centres of fpocket-rs's `max_sites` best-ranked pockets."""
    pockets = sorted(fpocket_rs.detect_pockets(protein_path)["pockets"], key=lambda pocket: pocket["rank"])
    return [tuple(float(v) for v in np.array(pocket["alpha_spheres"], dtype=np.float64)[:, :3].mean(0))
            for pocket in pockets[:max_sites] if pocket["alpha_spheres"]]
