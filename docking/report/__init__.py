"""OUT/report.html from what a run wrote: the page (`page`), one ligand's poses and contacts (`ligand`), the
protein drawn once per file (`protein`) and the vendored 3Dmol.js viewer (`assets/`). Reads files; never imports
the engine."""
