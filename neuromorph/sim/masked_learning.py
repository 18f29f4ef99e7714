"""Learning under a fan-out limit: :func:`learn_with_fanout` re-chooses the connectivity mask
(:func:`neuromorph.sim.connectivity.fanout_mask`) as the encoders learn."""
from __future__ import annotations

from neuromorph.sim.connectivity import fanout_mask
from neuromorph.sim.simulator import learn


def learn_with_fanout(net, source, n_steps: int, max_fanout: int, *, refresh: int = 4, snapshot_steps=(),
                      progress=None, **learn_kw):
    """:func:`~neuromorph.sim.simulator.learn` under a fan-out limit, the mask re-chosen as F learns.

    The encoders move during learning (the feed-forward rule), so a mask chosen once from the
    initial F keeps the wrong pairs.  Learning runs in ``refresh`` equal phases; before each the
    mask is re-chosen by :func:`fanout_mask` from the current F: connections leaving the mask are
    set to 0, connections entering it start at 0 and are learnt by the rule.  The final network
    satisfies the last mask exactly (``fanout(result.network.Omega) <= max_fanout``).

    Parameters as :func:`~neuromorph.sim.simulator.learn`; ``snapshot_steps`` (and the steps passed
    to ``on_snapshot``) count from the start.
    Returns its :class:`~neuromorph.sim.simulator.LearnResult` (snapshots and counts of all phases;
    ``network.meta["max_fanout"]`` records the limit).
    """
    on_snapshot = learn_kw.pop("on_snapshot", None)
    refresh = max(1, int(refresh))
    bounds = [round(n_steps * p / refresh) for p in range(refresh + 1)]
    work, state, total, snaps, counts = net, learn_kw.pop("state", None), 0, [], None
    for a, b in zip(bounds[:-1], bounds[1:]):
        mask = fanout_mask(work.F, max_fanout)
        res = learn(work, (lambda s, L, a=a: source(a + s, L)), b - a, state=state,
                    snapshot_steps=[s - a for s in snapshot_steps if a <= s < b], progress=progress,
                    rec_mask=mask, on_snapshot=None if on_snapshot is None else
                    (lambda s, F, Om, a=a: on_snapshot(s + a, F, Om)), **learn_kw)
        snaps += [(s + a, F, Om) for s, F, Om in res.snapshots]
        counts = res.counts if counts is None else counts + res.counts
        total += res.total_spikes
        work, state = res.network, res.state
    res.snapshots, res.total_spikes, res.n_steps, res.counts = snaps, total, n_steps, counts
    res.network.meta = dict(res.network.meta, max_fanout=int(max_fanout))
    return res
