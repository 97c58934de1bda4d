"""The learned docking model: the score network and its DisCo pointer latents (encoder, autoregressive prior),
the confidence network, SO(3) and torus diffusion math, the noise schedule, forward noising, the one
reverse-diffusion sampler (`sampler.sample_poses`) and docking complexes with the learned score
(`complex_sampling`); networks of a run are rebuilt by `loading`."""
