"""What a method is (the interface and the shared maximum-likelihood loop) and the parts methods
share (hyperparameter groups, Langevin steps, flows, flowMC, warm-up)."""
