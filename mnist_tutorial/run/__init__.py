"""Whole runs, as the command line offers them, from one RunConfig: train and save the outputs, or evaluate."""

from .config import RunConfig
from .evaluation import evaluate_checkpoint
from .training import train, train_and_save

__all__ = ["RunConfig", "evaluate_checkpoint", "train", "train_and_save"]
