"""modelcollapse: simulate, measure and explain model collapse."""
