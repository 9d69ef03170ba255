"""Data for TP1: datasets as arrays, and fast in-memory batches."""

from drlab.data.batches import Batches
from drlab.data.datasets import ImageDataset, load_digits, train_val_split

__all__ = ["Batches", "ImageDataset", "load_digits", "train_val_split"]
