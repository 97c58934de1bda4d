"""What `disco dock` and the Python API run: model folders, the docking pipeline (receptor parsed once,
ligands featurised, every site and ligand sampled in one batch), user-given sites and the blind site
search, streaming ligand inputs, physics-guided docking, post-processing, the poses' protein contacts,
writing poses, tables and the run's report page, and the batch run behind the CLI."""
