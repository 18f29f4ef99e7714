"""Simulation and learning: signals, the SCN and EI simulators, their compiled kernels, the
local plasticity rules, the plain NumPy reference they are tested against, and the random
number generator the kernels share.  Imports only :mod:`neuromorph.network`,
:mod:`neuromorph.metrics` and the standard scientific stack."""
