"""Everything measured in kcal/mol or kJ/mol: the Vina-form interaction energy, energy guidance and
resampling for the sampler, local minimisation and basin hopping in pose space, OpenMM relaxation with
GAFF2 ligand parameters, Vina rescoring with its receptor preparation, PoseBusters checks. Imports
docking.geometry, never docking.model or docking.inference."""
