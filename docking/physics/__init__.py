"""Everything measured in kcal/mol or kJ/mol: the Vina-form interaction energy (pairwise and grid maps, built
and cached per site by `site_energies`), energy guidance and resampling for the sampler, local minimisation,
basin hopping and random-start search in pose space, OpenMM relaxation with GAFF2 ligand parameters, Vina
rescoring with its receptor preparation, PoseBusters checks. Imports docking.geometry, never docking.model or
docking.inference."""
