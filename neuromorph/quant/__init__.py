"""Quantization as seen from the simulator: fake-quant evaluation and the quantized-network
file (:mod:`~neuromorph.quant.fakequant`, the lowest module here), chip-aware training and
mismatch studies above it.  The integer arithmetic itself is the lower package
:mod:`quantization`."""
