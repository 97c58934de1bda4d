"""What a `disco dock` run (or a `docking.dock` call) docks and how: `DockRequest`, the options of `disco dock`
by the same names, checked against the rules they must follow together when the request is built (and
rebuilt by dataclasses.replace), so that nothing downstream checks them again. Torch-free, so that a usage
error is reported at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from disco_core.errors import InputError
from docking.request.presets import DEFAULT, SEARCH_RANKINGS
from docking.request.shard import Shard

RANK_CHOICES = ("confidence", "vina", "energy", "intermolecular", "scorer")
ENERGY_CHOICES = ("pairwise", "grid", "grid+pairwise")


@dataclass
class DockRequest:
    """What to dock and how: the options of `disco dock` (same names); the defaults are `disco dock`'s.
    `out` None (the Python API without out=) writes nothing."""
    out: str | Path | None = None
    protein: str | None = None             # with ligand; or csv
    ligand: str | None = None
    name: str | None = None
    csv: str | None = None
    pocket_center: list[float] | None = None
    pocket_residues: str | None = None      # "A:45,A:99"
    autobox_ligand: str | None = None
    pocket_radius: float | None = None
    samples: int = 10
    steps: int = DEFAULT.steps
    seed: int = 0
    batch_size: int = 4
    guidance: float = 0.0
    physics_guidance: float = DEFAULT.physics_guidance
    refine_rounds: int = DEFAULT.refine_rounds
    refine_chains: int = DEFAULT.refine_chains
    random_starts: int = DEFAULT.random_starts
    energy: str = DEFAULT.energy
    blind_sites: int = 4
    rescore: str | None = None
    relax: bool = False
    relax_solvent: str = "vacuum"
    check: bool = False
    valid_first: bool = True
    rank_by: str = DEFAULT.rank_by
    model: str | None = None
    device: str = "auto"
    write_complex: bool = False
    max_residues: int = 10_000
    shard: Shard | None = None              # dock only this part of the input (docking.runs.shards)
    resume: bool = False                    # continue the run in `out`
    interactions: bool = True               # ProLIF contacts of every pose (SD property, interactions.csv)
    report: bool = True                     # OUT/report.html at the end of the run

    def __post_init__(self) -> None:
        check_request(self)


def check_request(request: DockRequest) -> None:
    """The request's options fit together; else an InputError naming the option (the CLI shows it as a
    usage error)."""
    if sum(x is not None for x in (request.pocket_center, request.pocket_residues, request.autobox_ligand)) > 1:
        raise InputError("pocket", "give at most one of --pocket-center, --pocket-residues, --autobox-ligand")
    if request.energy not in ENERGY_CHOICES:
        raise InputError("--energy", f"unknown energy {request.energy!r} (use {', '.join(ENERGY_CHOICES)})")
    if request.rank_by not in RANK_CHOICES:
        raise InputError("--rank-by", f"unknown ranking {request.rank_by!r} (use {', '.join(RANK_CHOICES)})")
    if request.rank_by == "vina" and request.rescore != "vina":
        raise InputError("--rank-by vina", "needs --rescore vina")
    if request.rank_by in SEARCH_RANKINGS and (request.rescore or request.relax):
        raise InputError(f"--rank-by {request.rank_by}", "ranks the sampled poses, which --rescore / --relax move; "
                                             "use --rank-by vina")
    if request.physics_guidance < 0:
        raise InputError("--physics-guidance", "must be >= 0")
    if request.refine_rounds < 0:
        raise InputError("--refine-rounds", "must be >= 0")
    if request.refine_rounds > 0 and not (request.physics_guidance > 0 or request.rank_by in SEARCH_RANKINGS):
        raise InputError("--refine-rounds", "needs the interaction energy (--physics-guidance W > 0 or "
                                            "--rank-by energy)")
    if request.refine_chains < 1:
        raise InputError("--refine-chains", "must be at least 1")
    if request.random_starts < 0:
        raise InputError("--random-starts", "must be >= 0")
    if request.random_starts > 0 and request.refine_rounds == 0:
        raise InputError("--random-starts", "needs basin hopping (--refine-rounds K > 0) to search from them")
    if request.samples < 1 or request.steps < 1 or request.batch_size < 1:
        raise InputError("--samples, --steps, --batch-size", "must be at least 1")
    if request.resume and request.out is None:
        raise InputError("--resume", "needs the output folder of the run to continue")
