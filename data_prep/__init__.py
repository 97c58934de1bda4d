"""Structures in, model-ready graphs out: proteins (PDB/mmCIF), ligands (SDF/MOL2/SMILES), conformers,
conformer matching, PDBbind-style and CSV inputs, and the processed cache (see `cache`)."""

from .featurize import FeaturizeOptions, StageError, featurize_pair, prepare_receptor
from .ligand_features import LIGAND_ATOM_FEATURE_DIMS, LIGAND_BOND_FEATURE_DIMS
from .protein import NUM_RESIDUE_TYPES, RESIDUE_TYPES

__all__ = ["FeaturizeOptions", "StageError", "featurize_pair", "prepare_receptor", "LIGAND_ATOM_FEATURE_DIMS",
           "LIGAND_BOND_FEATURE_DIMS", "RESIDUE_TYPES", "NUM_RESIDUE_TYPES"]
