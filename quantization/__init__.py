"""Quantization stage: maps float SCN arrays onto a target chip's fixed-point constraints.

A lower layer: arrays and hardware specs in, integer network and report out. It never
imports ``neuromorph``.
"""
