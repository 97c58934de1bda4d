"""DisCo-Diff for images: an EDM U-Net conditioned on discrete latents from an image encoder, a transformer
prior over the latents, Fashion-MNIST / image-folder data, and classifier-feature Frechet distances."""
