"""The paper's 2-D toy (section 3.2, appendix F): a mixture of 8 Gaussians, EDM vs DisCo-EDM."""
