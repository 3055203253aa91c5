"""Triplet-loss fine-tuning (``facerec train``): crops, sampling, mining and the training loop."""
