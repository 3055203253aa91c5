"""Embedding: a detected face becomes a unit vector (FaceNet), the same person's close together.

``align`` (the crop), ``facenet`` (Inception-ResNet-v1), ``embedder`` (Embedder: preprocessing,
batching, the centre), ``space`` (what a vector is: unit, centred), ``finetuned`` (facerec train's
model files), ``evaluate`` (the LFW protocol) and ``cache`` (embeddings kept between evaluations)."""
