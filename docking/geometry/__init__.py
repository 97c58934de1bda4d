"""Coordinates of ligand poses: rotations and pose transforms (rigid motion and torsion changes), the
geometry that both the learned model (docking.model) and the physics (docking.physics) move poses with."""
