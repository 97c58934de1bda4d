"""What orders poses: the training data of a learned pose scorer (`decoys`: training complexes' poses across the
RMSD range, labelled by their RMSD to the crystal pose)."""
