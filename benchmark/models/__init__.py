"""What the methods are built of: the energy-based model, normalizing flows, blocked evaluation of
large batches and the functions compiled by torch.compile."""
