"""Runtime: where the networks run and what they are made of.

``settings`` (device, backend, threads), ``onnx_backend`` (ONNX Runtime on the CPU, the cache of
exported graphs), ``torch_backend`` (torch: GPUs, training, and the source of the graphs) and
``weights`` (the manifest, lookup, sha256 checks, downloads)."""
