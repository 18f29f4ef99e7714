import json

import numpy as np
import pytest

from neuromorph.network import (EINetwork, NetworkFileError, NetworkShapeError, SCN, load_network,
                                save_network)


def small_scn(n=4, m=2):
    rng = np.random.default_rng(0)
    return SCN(F=rng.standard_normal((n, m)), Omega=-np.eye(n), D=rng.standard_normal((m, n)), thresholds=0.5,
               meta={"note": "x"})


def test_round_trip_scn(tmp_path):
    net = small_scn()
    p = save_network(net, tmp_path / "n.npz")
    back = load_network(p)
    for k in ("F", "Omega", "D", "thresholds"):
        assert np.array_equal(getattr(net, k), getattr(back, k))
    assert back.lam == net.lam and back.dt == net.dt and back.meta == {"note": "x"}
    assert [q.name for q in tmp_path.iterdir()] == ["n.npz"]  # no temp files left behind


def test_round_trip_ei(tmp_path):
    ne, ni, m = 6, 3, 2
    rng = np.random.default_rng(1)
    net = EINetwork(F_E=rng.standard_normal((ne, m)), W_EE=np.zeros((ne, ne)), W_EI=np.ones((ni, ne)),
                    W_IE=-np.ones((ne, ni)), W_II=-np.eye(ni), D_E=np.zeros((m, ne)), D_I=np.zeros((m, ni)),
                    T_E=0.5, T_I=0.5, refractory=7)
    back = load_network(save_network(net, tmp_path / "ei.npz"))
    assert isinstance(back, EINetwork) and back.refractory == 7
    assert np.array_equal(back.W_IE, net.W_IE)


@pytest.mark.parametrize("kw,msg", [
    (dict(Omega=np.zeros((3, 3))), r"Omega must have shape \(N, N\) = \(4, 4\)"),
    (dict(D=np.zeros((3, 4))), r"D must have shape \(M, N\) = \(2, 4\)"),
    (dict(thresholds=np.zeros(5)), r"thresholds must have shape \(N,\) = \(4,\)"),
    (dict(F=np.full((4, 2), np.nan)), r"F contains 8 non-finite"),
    (dict(dt=0.0), r"dt must be a finite positive"),
    (dict(lam=2000.0), r"lam\*dt = 2 must be < 1"),
])
def test_bad_shapes_are_named(kw, msg):
    base = dict(F=np.ones((4, 2)), Omega=-np.eye(4), D=np.zeros((2, 4)), thresholds=0.5)
    base.update(kw)
    with pytest.raises(NetworkShapeError, match=msg):
        SCN(**base)


def test_load_errors(tmp_path):
    with pytest.raises(NetworkFileError, match="not found"):
        load_network(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(NetworkFileError, match="not a readable"):
        load_network(tmp_path / "junk.npz")
    p = save_network(small_scn(), tmp_path / "n.npz")
    with np.load(p) as z:
        d = {k: z[k] for k in z.files}
    meta = json.loads(str(d["__meta__"]))
    meta["format_version"] = 99
    d["__meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "v99.npz", **d)
    with pytest.raises(NetworkFileError, match="unsupported format_version 99"):
        load_network(tmp_path / "v99.npz")
    meta["format_version"] = 1
    d["__meta__"] = np.array(json.dumps(meta))
    d["Omega"] = np.zeros((2, 2))
    np.savez(tmp_path / "bad.npz", **d)
    with pytest.raises(NetworkFileError, match="inconsistent network: Omega must have shape"):
        load_network(tmp_path / "bad.npz")
    del d["Omega"]
    np.savez(tmp_path / "missing_arr.npz", **d)
    with pytest.raises(NetworkFileError, match=r"missing array\(s\) \['Omega'\]"):
        load_network(tmp_path / "missing_arr.npz")
