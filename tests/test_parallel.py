"""map_in_processes: the same results, in order, with any number of workers."""
import os

import pytest

from neuromorph.parallel import map_in_processes


def _work(i, scale):
    return i * scale, os.getpid()


def test_results_in_order_and_independent_of_workers():
    args = [(i, 3) for i in range(7)]
    ticks = []
    serial = map_in_processes(_work, args, 1, ticks.append)
    par = map_in_processes(_work, args, 2, ticks.append)
    assert [v for v, _ in serial] == [v for v, _ in par] == [3 * i for i in range(7)]
    assert len(ticks) == 14 and set(ticks) == {1}
    assert {pid for _, pid in serial} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in par}  # really other processes


def test_bad_worker_count_and_errors_surface():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        map_in_processes(_work, [(1, 1)], 0)
    with pytest.raises(TypeError):
        map_in_processes(_work, [(1,), (2,)], 2)  # the worker's exception reaches the caller


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _fail():
    raise ValueError("figure broke")


@pytest.mark.parametrize("fork", [True, False])
def test_in_background_writes_and_reraises(tmp_path, monkeypatch, fork) -> None:
    from neuromorph.parallel import in_background, second_core

    if fork and not second_core():  # e.g. under taskset -c 0: in_background runs inline (the other case)
        pytest.skip("one CPU: the fork path is not taken")
    if not fork:  # the one-core path: the work runs at once, in this process
        monkeypatch.setenv("NEUROMORPH_NO_FORK", "1")
    job = in_background(_write, tmp_path / "a.txt", "done")
    job.join()
    assert (tmp_path / "a.txt").read_text() == "done"
    if fork:
        job = in_background(_fail)
        with pytest.raises(RuntimeError, match="figure broke"):
            job.join()
    else:
        with pytest.raises(ValueError, match="figure broke"):
            in_background(_fail)


def _background_in_pool(path):
    from neuromorph.parallel import in_background

    in_background(_write, path, "inline").join()
    return open(path).read()


def test_in_background_inside_a_daemonic_pool_worker(tmp_path) -> None:
    """A multiprocessing.Pool worker may not start processes: the work then runs inline."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_background_in_pool, (str(tmp_path / "p.txt"),)) == "inline"
