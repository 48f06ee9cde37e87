"""Batches on Dask (a real scheduler and two workers on 127.0.0.1) and the
``cytolab process`` command."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import cytolab
from cytolab.cli.main import main
from cytolab.process import BatchError, find_inputs, run, run_batch

pytest.importorskip("distributed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A dask scheduler and two single-threaded workers on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    cwd = tmp_path_factory.mktemp("dask")
    procs = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
         "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(2):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address,
             "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client
    deadline = time.time() + 60
    while True:
        try:
            with Client(address, timeout=5) as client:
                if len(client.scheduler_info()["workers"]) == 2:
                    break
        except OSError:
            pass
        if time.time() > deadline:
            pytest.fail("dask scheduler/workers did not start")
        time.sleep(0.5)
    yield address
    for proc in procs[::-1]:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture()
def batch_dir(raw_steady, tmp_path):
    path, _ = raw_steady
    root = tmp_path / "measurements"
    (root / "day2").mkdir(parents=True)
    for dest in (root / "a.rtdc", root / "b.rtdc", root / "day2" / "c.rtdc"):
        shutil.copy(path, dest)
    return root


def _same_events(p1, p2):
    with h5py.File(p1) as h1, h5py.File(p2) as h2:
        for name in ("deform", "area_um", "frame", "bright_avg"):
            np.testing.assert_array_equal(h1["events"][name][:], h2["events"][name][:])


def test_batch_on_existing_cluster(dask_scheduler, batch_dir, tmp_path):
    out_dir = tmp_path / "results"
    outputs = run_batch(batch_dir, out_dir, scheduler=dask_scheduler,
                        progress=False)
    assert [p.relative_to(out_dir).as_posix() for p in outputs] == [
        "a_processed.rtdc", "b_processed.rtdc", "day2/c_processed.rtdc"]
    direct = run(batch_dir / "a.rtdc", tmp_path / "direct.rtdc", num_procs=1,
                 progress=False)
    for out in outputs:
        _same_events(out, direct)
    # outputs are not inputs of a later batch
    assert len(find_inputs(batch_dir)) == 3


def test_batch_reports_failures(dask_scheduler, batch_dir, tmp_path):
    (batch_dir / "broken.rtdc").write_text("not hdf5")
    with pytest.raises(BatchError, match="1 of 4 files failed") as info:
        run_batch(batch_dir, tmp_path / "res", scheduler=dask_scheduler,
                  progress=False)
    assert len(info.value.outputs) == 3
    assert all(p.exists() for p in info.value.outputs)
    assert "broken.rtdc" in str(info.value)


def test_cli_batch_local_cluster(batch_dir, tmp_path, capsys):
    code = main(["process", "--batch", str(batch_dir), str(tmp_path / "res"),
                 "--workers", "1", "--no-progress"])
    assert code == 0
    assert "Processed 3 files" in capsys.readouterr().out
    assert (tmp_path / "res" / "day2" / "c_processed.rtdc").exists()


def test_cli_process(raw_steady, tmp_path, capsys):
    path, _ = raw_steady
    out = tmp_path / "out.rtdc"
    code = main(["process", str(path), str(out), "-s", "thresh=-8",
                 "-s", "closing_disk=3", "-g", "min_area=20", "--num-procs", "1",
                 "--index-mapping", "0:300", "--no-progress"])
    assert code == 0
    assert str(out) in capsys.readouterr().out
    with cytolab.new_dataset(out) as ds:
        assert ds.config["pipeline"]["dcnum segmenter"] == \
            "thresh:t=-8:cle=1^f=1^clo=3"
        assert ds.config["pipeline"]["dcnum gate"] == "norm:mi=20^ma=0^e=0"
        assert ds["basinmap0"][:].max() < 300
    # errors: exit code 1 and a message
    assert main(["process", str(path), str(out), "--no-progress"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["process", str(path), str(tmp_path / "x.rtdc"), "-s", "nokv",
                 "--no-progress"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["process", str(path), "--scheduler", "tcp://1.2.3.4:1"]) == 1


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["process", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--batch" in text and "--scheduler" in text and "sparsemed" in text
