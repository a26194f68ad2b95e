"""Developer tooling: the `spin-reel` CLI, the synthetic data generator, the embedded-store launcher, rebuilds."""
