"""What a plasticity rule may read or change at a spike, for the per-spike Python path."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LearningState:
    """Views into the simulator's state at one spike.

    F (N, M), Omega (N, N) are modified in place; V (N,) post-integration, pre-reset voltage,
    r (N,) filtered spike trains before this spike, b (M,) feed-forward input trace,
    U (N, M) running covariance projection (correlated feed-forward form only) are read.
    """

    F: np.ndarray
    Omega: np.ndarray
    V: np.ndarray
    r: np.ndarray
    b: np.ndarray
    U: np.ndarray
