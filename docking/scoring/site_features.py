"""What a site ranker sees of one candidate site of a blind run: how the finder rated it and what lines it.

Why: the site search orders its pockets by one number (core buriedness), and its first site misses the ligand
on more than half of the complexes (benchmarks/results/site_recall). Ligand sites differ from other clefts in
what lines them (aromatic and hydrophobic side chains, cofactors) as well as in depth.

    log_score, log_volume       the finder's score (core buriedness) and the pocket's volume, log(1 + x)
    score_share                 score over the best score among the protein's sites
    log_rank                    log of the finder's rank
    log_residues                log(1 + residues lining the core)
    hydrophobic ... other       shares of those residues by class (RESIDUE_CLASSES); `other` is anything that is
                                not one of the 20 amino acids (cofactors, modified residues, ions)
    chains                      chains among the lining residues
    centrality                  the centre's distance from the protein's heavy-atom centroid over the protein's
                                radius of gyration

All read the sites' own table (docking.inference.site_search.CandidateSite) and the protein's heavy atoms, so the
features are the same whatever the protein's frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

RESIDUE_CLASSES = {
    "hydrophobic": {"ALA", "VAL", "LEU", "ILE", "MET", "PRO", "PHE", "TRP"},
    "aromatic": {"PHE", "TYR", "TRP", "HIS"},
    "charged": {"ASP", "GLU", "LYS", "ARG"},
    "polar": {"SER", "THR", "ASN", "GLN", "CYS"},
    "glycine": {"GLY"},
}
AMINO_ACIDS = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET", "PHE",
               "PRO", "SER", "THR", "TRP", "TYR", "VAL"}
SITE_FEATURES = ("log_score", "log_volume", "score_share", "log_rank", "log_residues", *RESIDUE_CLASSES, "other",
                 "chains", "centrality")


class SiteLike(Protocol):
    """What the features read of a site: docking.inference.site_search.CandidateSite has it. A protocol, so that
    scoring does not import inference (the arrows point down, DESIGN.md)."""
    rank: int
    center: tuple[float, float, float]
    score: float
    volume_A3: float
    residues: tuple[str, ...]


def residue_name(label: str) -> tuple[str, str]:
    """(chain, residue name) of a lining-residue label "A:TYR45" (CandidateSite.residues)."""
    chain, rest = label.split(":", 1)
    return chain, rest[:3].upper() if len(rest) >= 3 and rest[:3].isalpha() else "".join(
        c for c in rest if c.isalpha()).upper()


def site_features(sites: Sequence[SiteLike], protein_pos: np.ndarray) -> np.ndarray:
    """(S, len(SITE_FEATURES)) features of a protein's candidate sites (best first, as the finder ranks them)."""
    pos = np.asarray(protein_pos, dtype=np.float64).reshape(-1, 3)
    centroid = pos.mean(0)
    gyration = max(1e-6, float(np.sqrt(((pos - centroid) ** 2).sum(1).mean())))
    best = max((s.score for s in sites), default=1.0) or 1.0
    rows = []
    for site in sites:
        names = [residue_name(label) for label in site.residues]
        count = max(1, len(names))
        shares = [sum(name in members for _, name in names) / count for members in RESIDUE_CLASSES.values()]
        other = sum(name not in AMINO_ACIDS for _, name in names) / count
        rows.append([math.log1p(max(0.0, site.score)), math.log1p(max(0.0, site.volume_A3)), site.score / best,
                     math.log(site.rank), math.log1p(len(names)), *shares, other,
                     float(len({chain for chain, _ in names})),
                     float(np.linalg.norm(np.asarray(site.center) - centroid)) / gyration])
    return np.asarray(rows, dtype=np.float64).reshape(len(sites), len(SITE_FEATURES))
