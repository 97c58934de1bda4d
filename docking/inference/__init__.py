"""The engine behind `disco dock` and the Python API: model folders (`model_folder`), the pipeline that parses a
receptor once and docks every site and ligand of a batch in one pass (`pipeline`), user-given and blind sites
(`given_sites`, `site_search`), the sampler composed with physics (`guided_docking`), the one function that
orders a ligand's poses (`ranking`), one ligand docked and post-processed (`ligand_docker`, `postprocess`)."""
