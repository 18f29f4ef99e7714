"""Will a network of this shape fit? Checked from sizes alone, before any training or mapping.

:func:`check_shapes` needs only numbers (neurons, signal dimensions, the recurrent fan-out the
network will have, the relay neurons its layout adds) and a :class:`HardwareSpec`, runs in
microseconds, and returns a :class:`~quantization.fit_check.FitReport` whose messages say which
limit fails, by how much, and what to change.  The element-wise check of the integer network
(:func:`quantization.fit_check.check_fit`) still runs after mapping; this one runs first so a
network that cannot fit fails in well under a second rather than after minutes of work.

Conventions (those of the SCN deployment, docs/backends.md): an M-dimensional signal uses 2M
input channels (± event channel pairs) and M output neurons; the recurrent fan-out of a neuron
counts its self-connection (the mapping's residual self-weight), so a dense N-neuron SCN has
fan-out N.
"""
from __future__ import annotations

from typing import Optional

from .fit_check import FitReport, Violation, recurrent_total_message
from .hardware import HardwareSpec

__all__ = ["check_shapes", "ShapeFitError"]


class ShapeFitError(ValueError):
    """A network shape that cannot fit its target (one line: every failing limit and the remedy)."""

    def __init__(self, report: FitReport):
        self.report = report
        super().__init__(f"{report.target}: the network cannot fit: "
                         + "; ".join(v.message for v in report.violations))


def check_shapes(spec: HardwareSpec, n_neurons: int, n_signals: int, *, fanout: Optional[int] = None,
                 relay_neurons: int = 0, relay_fanout: int = 0, projection_relayed: bool = False,
                 relay_weights: int = 0, coding_fanout: Optional[int] = None,
                 input_lines: Optional[int] = None) -> FitReport:
    """Shapes-only fit check of an N-neuron SCN coding an M-dimensional signal.

    Parameters
    ----------
    spec : the hardware target.
    n_neurons : N, coding neurons.
    n_signals : M, signal dimensions (2M input channels, M outputs).
    fanout : the largest recurrent fan-out of a coding neuron, self included (None: dense, N).
    relay_neurons : hidden neurons a relay layout adds (0: direct layout).
    relay_fanout : recurrent targets the relay layout adds to each coding neuron (output relays).
    projection_relayed : the layout feeds input and reads output through relays, so the
        input/output projection limits do not apply to the coding neurons.
    coding_fanout : the coding neurons' largest fan-out for the total-weight limit, when
        ``fanout`` is raised to a relay's own (None: ``fanout``).
    relay_weights : non-zero recurrent weights the relays' own rows hold (input relays: their
        self-weight and one weight to each coding neuron), for the total-weight limit.
    input_lines : input channels the network takes when they are not 2M ± event pairs (an audio
        front-end's unsigned event channels); None: 2M.

    The total of non-zero recurrent weights (``spec.max_recurrent_weights``, Xylo IMU) is
    bounded by ``N · (fan-out + relay_fanout) + relay_weights``: every coding neuron at the
    largest fan-out — exact for a dense SCN, an upper bound under a mask.

    Returns
    -------
    FitReport with one violation per failing limit (``ok`` when none).
    """
    v: list[Violation] = []
    n, m = int(n_neurons), int(n_signals)
    name = spec.name

    def add(fld, value, limit, msg):
        v.append(Violation(fld, None, value, limit, msg))

    kmax = min(x for x in (spec.max_inputs // 2 if spec.max_inputs is not None else None, spec.max_outputs, 10 ** 9)
               if x is not None)
    fewer = (f"reduce the signal to at most {kmax} channels: train --max-channels {kmax} (its {kmax} "
             f"principal components)")
    if input_lines is not None:
        if spec.max_inputs is not None and int(input_lines) > spec.max_inputs:
            add("n_inputs", int(input_lines), spec.max_inputs,
                f"{int(input_lines)} front-end event channels > {spec.max_inputs} input lines (over by "
                f"{int(input_lines) - spec.max_inputs})")
    elif spec.max_inputs is not None and 2 * m > spec.max_inputs:
        add("n_inputs", 2 * m, spec.max_inputs,
            f"{m} signal channels need {2 * m} input lines (± event pairs) > {spec.max_inputs} "
            f"(over by {2 * m - spec.max_inputs}); {fewer}")
    if spec.max_outputs is not None and m > spec.max_outputs:
        add("n_outputs", m, spec.max_outputs,
            f"{m} outputs > {spec.max_outputs} output neurons (over by {m - spec.max_outputs}); {fewer}")
    hidden = n + int(relay_neurons)
    if spec.max_hidden is not None and hidden > spec.max_hidden:
        room = spec.max_hidden - int(relay_neurons)
        what = f"{n} neurons + {relay_neurons} relay neurons" if relay_neurons else f"{n} neurons"
        add("n_hidden", hidden, spec.max_hidden,
            f"{what} > {spec.max_hidden} hidden neurons (over by {hidden - spec.max_hidden}); use at most "
            f"{max(room, 0)} neurons (--neurons {max(room, 0)})")
    fan = (n if fanout is None else int(fanout)) + int(relay_fanout)
    if spec.max_fanout is not None and fan > spec.max_fanout:
        k = spec.max_fanout - int(relay_fanout)
        what = "a dense SCN" if fanout is None or int(fanout) >= n else "the connectivity mask"
        add("fanout", fan, spec.max_fanout,
            f"recurrent fan-out {fan} ({what}, self-connection counted) > {spec.max_fanout} (over by "
            f"{fan - spec.max_fanout}); learn under a sparser mask (train --max-fanout {k}) or use at most {k} neurons")
    if spec.max_recurrent_weights is not None:
        cfan = (fan if coding_fanout is None else int(coding_fanout) + int(relay_fanout))
        total = n * cfan + int(relay_weights)
        if total > spec.max_recurrent_weights:
            add("recurrent_weights", total, spec.max_recurrent_weights,
                recurrent_total_message(total, spec.max_recurrent_weights, n, fixed=int(relay_weights),
                                        per_neuron=int(relay_fanout),
                                        detail=f" ({n} neurons × fan-out {cfan}"
                                        + (f" + {relay_weights} relay weights)" if relay_weights else ")")))
    if not projection_relayed:
        for kind, proj, size in (("input", spec.input_projection, spec.input_projection_size),
                                 ("output", spec.output_projection, spec.output_projection_size)):
            if proj in ("first", "last") and size is not None and n > size:
                add(f"{kind}_projection", n, size,
                    f"{n} neurons need {kind} but only the {proj} {size} hidden neurons take {kind} "
                    f"(over by {n - size}); use at most {size} neurons")
    return FitReport(target=name, violations=v)
