"""One protein, parsed once: what a docking needs of its receptor, in one object.

A docking looks at the receptor three ways: the score model's residue graph (C-alpha nodes and their
features), the blind site search and the interaction energy (heavy atoms), and the external tools of
post-processing (Vina, OpenMM, PoseBusters), which read a file. `load_receptor` reads the file once
(one gemmi model) and keeps all three, so that a docking passes this object down instead of the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .featurize import receptor_features
from .protein import (DEFAULT_MAX_RESIDUES, HeavyAtoms, ReceptorStructure, heavy_atoms_of_model, read_first_model,
                      structure_of_model)


@dataclass(frozen=True, eq=False)   # compared and hashed by identity: caches key on the object
class Receptor:
    """A parsed protein: its source file, its residues (and the graph's rec_* features) and its heavy atoms."""

    path: str                        # the source file, for the tools that read one (Vina, OpenMM, complex PDB)
    structure: ReceptorStructure     # residues with a C-alpha, in file order, and what was left out
    heavy_atoms: HeavyAtoms          # every heavy atom but waters (site search, interaction energy)
    features: dict                   # `prepare_receptor`'s dict: rec_* tensors and source_protein

    @property
    def residue_ids(self) -> list[str]:
        """"A:45" / "A:45B" of every residue node, in graph order."""
        return self.structure.residue_ids

    @property
    def ca_pos(self) -> np.ndarray:
        """(M, 3) float32 C-alpha positions of the residue nodes."""
        return self.structure.ca_pos

    @property
    def num_residues(self) -> int:
        return self.structure.num_residues


def load_receptor(protein_path: str | Path, max_residues: int = DEFAULT_MAX_RESIDUES,
                  esm_embeddings: dict | None = None, esm_keys: list[str] | None = None) -> Receptor:
    """A PDB/mmCIF file's Receptor, from one read of its first model. InputError naming the file when
    it is missing or unreadable, has no amino-acid residue or no heavy atom, or more than
    `max_residues` residues (as `prepare_receptor` and `read_heavy_atoms`)."""
    model = read_first_model(protein_path)
    structure = structure_of_model(model, protein_path, max_residues)
    heavy_atoms = heavy_atoms_of_model(model, protein_path)
    return Receptor(path=str(protein_path), structure=structure, heavy_atoms=heavy_atoms,
                    features=receptor_features(structure, protein_path, esm_embeddings, esm_keys))
