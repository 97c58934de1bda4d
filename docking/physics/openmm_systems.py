"""OpenMM System plumbing for `docking.physics.relax`: the protein and ligand Systems and Topologies
merged into one (both plain Amber functional forms, so the merge is exact and needs no parmed), and
the OBC2 implicit-solvent force for the merged System."""

from __future__ import annotations

import openmm
from openmm import app
from openmm.app.internal.customgbforces import GBSAOBC2Force

# Nonbonded cutoff (reaction field beyond it): a cropped pocket has thousands of atoms, and without a
# cutoff every minimiser step pays for all protein-protein pairs although the protein barely moves.
NONBONDED_CUTOFF_NM = 1.0


def merge(protein: openmm.System, ligand: openmm.System) -> openmm.System:
    """Protein System with the ligand's particles and Amber terms appended (ligand indices offset)."""
    system = openmm.XmlSerializer.clone(protein)
    offset = system.getNumParticles()
    for i in range(ligand.getNumParticles()):
        system.addParticle(ligand.getParticleMass(i))
    target = {type(f): f for f in system.getForces()}
    for force in ligand.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            for k in range(force.getNumBonds()):
                i, j, *params = force.getBondParameters(k)
                target[openmm.HarmonicBondForce].addBond(i + offset, j + offset, *params)
        elif isinstance(force, openmm.HarmonicAngleForce):
            for k in range(force.getNumAngles()):
                i, j, m, *params = force.getAngleParameters(k)
                target[openmm.HarmonicAngleForce].addAngle(i + offset, j + offset, m + offset, *params)
        elif isinstance(force, openmm.PeriodicTorsionForce):
            for k in range(force.getNumTorsions()):
                i, j, m, n, *params = force.getTorsionParameters(k)
                target[openmm.PeriodicTorsionForce].addTorsion(i + offset, j + offset, m + offset, n + offset, *params)
        elif isinstance(force, openmm.NonbondedForce):
            nonbonded = target[openmm.NonbondedForce]
            for i in range(force.getNumParticles()):
                nonbonded.addParticle(*force.getParticleParameters(i))
            for k in range(force.getNumExceptions()):
                i, j, *params = force.getExceptionParameters(k)
                nonbonded.addException(i + offset, j + offset, *params)
    return system


def merge_topology(protein: app.Topology, ligand: app.Topology) -> app.Topology:
    topology = app.Topology()
    atom_map = {}
    for source in (protein, ligand):
        for chain in source.chains():
            new_chain = topology.addChain(chain.id)
            for residue in chain.residues():
                new_residue = topology.addResidue(residue.name, new_chain, residue.id)
                for atom in residue.atoms():
                    atom_map[atom] = topology.addAtom(atom.name, atom.element, new_residue)
        for bond in source.bonds():
            topology.addBond(atom_map[bond[0]], atom_map[bond[1]])
    return topology


def obc2_force(system: openmm.System, topology: app.Topology) -> openmm.GBSAOBCForce:
    """OBC2 implicit solvent (mbondi2 radii, as OpenMM's amber14 implicit/obc2.xml) for all atoms."""
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    nonbonded.setReactionFieldDielectric(1.0)  # the solvent is the GB term's, not a reaction field's
    force = openmm.GBSAOBCForce()
    force.setNonbondedMethod(openmm.GBSAOBCForce.CutoffNonPeriodic)
    force.setCutoffDistance(NONBONDED_CUTOFF_NM)
    for i, (radius, scale) in enumerate(GBSAOBC2Force.getStandardParameters(topology)):
        charge = nonbonded.getParticleParameters(i)[0]
        force.addParticle(charge, radius, scale)
    return force
