"""pyKVFinder (Guerra et al., BMC Bioinformatics 2021; `pip install pyKVFinder`) as a `--finders` entry.

pyKVFinder labels cavities in the order its flood fill meets them on the grid, which says nothing about how
likely a ligand is there, so sites are ranked by cavity volume (grid points, largest first); a site's centre is
the centroid of its cavity points. Defaults of pyKVFinder (0.6 A grid, probes 1.4 / 4.0 A, 5 A^3 cutoff), one
thread.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pyKVFinder  # an optional finder: this module is imported only when --finders names it

_ROOT_ONLY = logging.Filter("pyKVFinder-root")   # passes nothing logged on the root logger itself


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """pyKVFinder's reader warns on the root logger for every atom missing from its radii table (OXT, ions,
    cofactors: it then uses a generic radius); under `disco` that is a line per atom on stderr. Records of named
    loggers are untouched."""
    root = logging.getLogger()
    root.addFilter(_ROOT_ONLY)
    try:
        yield
    finally:
        root.removeFilter(_ROOT_ONLY)


def grid_positions(indices: np.ndarray, vertices: np.ndarray, step: float) -> np.ndarray:
    """Cartesian coordinates (A) of grid indices (n, 3) of a pyKVFinder grid spanned by `vertices` (origin,
    X-, Y-, Z-axis ends)."""
    origin = vertices[0]
    axes = np.stack([(vertices[i] - origin) / np.linalg.norm(vertices[i] - origin) for i in (1, 2, 3)])
    return origin + step * indices @ axes


def site_centres(protein_path: str, max_sites: int, step: float = 0.6) -> list[tuple[float, float, float]]:
    """Centroids of the `max_sites` largest cavities pyKVFinder detects."""
    with _quiet_root_logger():
        atomic = pyKVFinder.read_pdb(protein_path)
    vertices = np.asarray(pyKVFinder.get_vertices(atomic, step=step), dtype=np.float64)
    n_cavities, grid = pyKVFinder.detect(atomic, vertices, step=step, nthreads=1)
    labels = grid.reshape(-1)
    counts = np.bincount(np.where(labels >= 2, labels, 0), minlength=n_cavities + 2)[2:]
    order = np.argsort(-counts, kind="stable")[:max_sites]   # ties: pyKVFinder's own label order
    centres = []
    for label in order + 2:
        indices = np.argwhere(grid == label).astype(np.float64)
        centres.append(tuple(float(v) for v in grid_positions(indices, vertices, step).mean(0)))
    return centres
