"""The protein-ligand contacts of docked poses: ProLIF fingerprints per pose and their tables (`profiler`), and
the protonated receptor ProLIF needs, built once per protein with PDBFixer and OpenMM (`receptor`)."""
