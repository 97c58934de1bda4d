"""Training the docking model in stages (score model + pointer encoder, pointer prior, confidence model)
and exporting a run as a model folder with its calibration."""
