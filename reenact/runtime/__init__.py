"""Inference backends for a trained generator: one interface (`backend.Backend`), torch, ONNX Runtime
and TensorRT implementations, the TensorRT engine cache, `--backend auto` selection and `reenact export`.

Modules import their backend's package only when that backend is built, so importing this package
never needs onnxruntime-gpu or TensorRT.
"""
