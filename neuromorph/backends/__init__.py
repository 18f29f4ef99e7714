"""Backends: take a quantized network to a device (export) or emulate the device in software."""
