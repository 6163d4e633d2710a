"""Whole runs, as the command line offers them: train and save the four outputs, or evaluate a checkpoint.

This layer sits between the core (the lesson, datasets/) with parallel/ below it, and the faces
(cli/, widgets/, doctor/) above: one RunConfig describes a run; this layer checks it, prepares and locks the
output folder, resumes, trains (on one process or several) and writes. Nothing below it imports it.
"""

from .config import RunConfig
from .evaluation import evaluate_checkpoint
from .training import train, train_and_save

__all__ = ["RunConfig", "evaluate_checkpoint", "train", "train_and_save"]
