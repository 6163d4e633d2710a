"""Training faster with the same numbers: the lesson's step replayed from CUDA graphs (notebook 06)."""
