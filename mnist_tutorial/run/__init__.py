"""Whole runs, as the command line offers them: train and save the four outputs, or evaluate a checkpoint.

This layer sits between the core (model, data, train, checkpoint) and the faces (cli): it checks settings,
prepares and locks the output folder, resumes, trains and writes. The core and the widgets never import it.
"""

from .evaluate import evaluate_checkpoint
from .train import train_and_save

__all__ = ["evaluate_checkpoint", "train_and_save"]
