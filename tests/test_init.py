"""Initial networks of :mod:`neuromorph.sim.init` for sizes other than the paper's."""
import numpy as np
import pytest

from neuromorph.sim.init import (SCNParams, code_start, default_rules, initial_ei_network, initial_scn, paper_start,
                                 unit_encoders)

# unit rows: the norm of a normalised float64 row is 1 within a few ulps (M ≤ 5 terms here)
UNIT_TOL = 1e-12


@pytest.mark.parametrize("n,m", [(1, 1), (7, 3), (50, 5)])
def test_paper_start_is_lopsided_with_self_resets_only(n, m):
    net = paper_start(4, n, m)
    assert net.F.shape == (n, m) and net.Omega.shape == (n, n) and net.D.shape == (m, n)
    assert np.allclose(np.linalg.norm(net.F, axis=1), 1.0, rtol=0, atol=UNIT_TOL)
    assert (net.F[:, 0] <= 0).all()
    assert np.array_equal(net.Omega, -0.5 * np.eye(n))
    assert not net.D.any()


@pytest.mark.parametrize("n,m", [(2, 1), (7, 3), (50, 5)])
def test_code_start_ranges(n, m):
    net = code_start(4, n, m)
    assert np.allclose(np.linalg.norm(net.F, axis=1), 1.0, rtol=0, atol=UNIT_TOL)
    off = ~np.eye(n, dtype=bool)
    assert ((net.Omega[off] >= -0.2) & (net.Omega[off] <= 0)).all()
    assert ((np.diag(net.Omega) >= -0.7) & (np.diag(net.Omega) <= -0.5)).all()
    if n == 50:  # isotropic: some weight on signal 1 is positive (all ≤ 0 has probability 2^-50)
        assert (net.F[:, 0] > 0).any()


def test_both_starts_draw_f_first_from_the_same_stream():
    # the paper's start only flips signs of the code's first draw: same magnitudes
    a, b = paper_start(11, 9, 2), code_start(11, 9, 2)
    assert np.array_equal(np.abs(a.F), np.abs(b.F))
    assert np.array_equal(a.F[:, 1], b.F[:, 1])
    g = np.random.default_rng(11)
    assert np.array_equal(unit_encoders(g, 9, 2), b.F)


def test_initial_scn_dispatch_params_and_errors():
    p = SCNParams(lam=20.0, dt=1e-4, threshold=0.3, v_noise=0.0, t_noise=0.0)
    net = initial_scn(0, "code", 5, 2, p, meta={"k": 1})
    assert (net.lam, net.dt, net.v_noise, net.t_noise) == (20.0, 1e-4, 0.0, 0.0)
    assert np.allclose(net.thresholds, 0.3) and net.meta == {"k": 1}
    assert np.array_equal(initial_scn(3, "paper", 5, 2).F, paper_start(3, 5, 2).F)
    with pytest.raises(ValueError, match="init must be"):
        initial_scn(0, "lopsided")
    with pytest.raises(ValueError, match="positive"):
        paper_start(0, 0, 2)


def test_default_rules_follow_params():
    rec, ff = default_rules(SCNParams(lr_rec=2e-3, lr_ff=3e-4, alpha=0.5, beta=2.0, mu=0.1))
    assert (rec.lr, rec.beta, rec.mu) == (2e-3, 2.0, 0.1)
    assert (ff.lr, ff.alpha, ff.form) == (3e-4, 0.5, "code")


@pytest.mark.parametrize("ne,ni,m", [(10, 4, 2), (12, 12, 1)])
def test_ei_start_obeys_dale_for_other_sizes(ne, ni, m):
    net = initial_ei_network(ne, ni, m, seed=5)
    assert net.F_E.shape == (ne, m) and net.W_EI.shape == (ni, ne) and net.W_IE.shape == (ne, ni)
    assert np.array_equal(net.W_EE, np.diag(np.full(ne, net.e_self_reset)))  # E→E: the fixed self-reset only
    assert (net.W_EI >= 0).all() and (net.W_IE <= 0).all() and (net.W_II <= 0).all()
    assert np.array_equal((net.W_EI > 0).sum(axis=0), np.ones(ne))  # every E neuron drives one I neuron
    assert np.allclose(np.linalg.norm(net.F_E, axis=1), 1.0, rtol=0, atol=UNIT_TOL)
    with pytest.raises(ValueError):
        initial_ei_network(0, ni, m)
