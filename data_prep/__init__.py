"""Structures in, model-ready graphs out: proteins (PDB/mmCIF), ligands (SDF/MOL2/SMILES), conformers,
conformer matching, PDBbind-style and CSV inputs, the processed cache (see `cache`), the receptor parsed once
(`receptor`) and the symmetry-corrected RMSD (`pose_rmsd`).

Nothing is imported here: `disco --help` and every subcommand's start-up would otherwise pay for torch and
RDKit; import the module you need (e.g. `from data_prep.featurize import featurize_pair`)."""
