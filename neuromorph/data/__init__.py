"""The user's signal: read a data file, resample it to the network's time step, split off a
held-out part, and scale it into the network's operating range (keeping the scale, so every
error downstream can also be reported in the data's own units).

* :mod:`~neuromorph.data.signal` — the :class:`Signal` record, resampling, splitting, scaling,
  the built-in named sources;
* :mod:`~neuromorph.data.loaders` — ``.npy``, ``.npz``, ``.csv`` and ``.wav`` readers;
* :mod:`~neuromorph.data.drive` — the input current of a stored signal, looped for learning
  or played once for evaluation, with smooth joins between trials;
* :mod:`~neuromorph.data.rundata` — the ``data.npz`` file a training run keeps beside its network.
"""
from neuromorph.data.loaders import SUFFIXES, load_signal
from neuromorph.data.rundata import RUN_DATA_FILE, RunData, load_run_data, prepare_run_data, save_run_data
from neuromorph.data.signal import (BUILTIN_SOURCES, OPERATING_STD, OPERATING_STD_EI, DataError, Scaling, Signal,
                                    builtin_signal, fit_scaling, resample, split_signal)

__all__ = ["BUILTIN_SOURCES", "DataError", "OPERATING_STD", "OPERATING_STD_EI", "RUN_DATA_FILE", "RunData", "SUFFIXES",
           "Scaling", "Signal", "builtin_signal", "fit_scaling", "load_run_data", "load_signal", "prepare_run_data",
           "resample", "save_run_data", "split_signal"]
