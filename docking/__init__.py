"""DiffDock-style docking: product-space diffusion over ligand poses (R^3 x SO(3) x T^m) with DisCo latents."""
