"""status reads the repository once per command, and only the model asked for (issue: a fleet's status read and
normalized every model once per replica)."""

from __future__ import annotations

from conftest import write_tree


def test_disk_models_reads_only_the_model_asked_for(tmp_path, monkeypatch):
    import tritonctl.normalize as normalize
    from tritonctl.status import disk_models

    for name in ("a", "b", "c"):
        write_tree(tmp_path / name, {"config.pbtxt": 'backend: "python"\n', "1/model.py": "x = 1\n"})
    calls = []
    real = normalize.served
    monkeypatch.setattr(normalize, "served", lambda model, *a, **k: calls.append(model.name) or real(model, *a, **k))
    assert list(disk_models(tmp_path, "b")) == ["b"] and calls == ["b"]
    assert sorted(disk_models(tmp_path)) == ["a", "b", "c"] and calls == ["b", "a", "b", "c"]


def test_a_fleets_status_reads_the_repository_once_for_all_replicas(tmp_path, monkeypatch):
    import tritonctl.status as status_module
    from tritonctl import fleet
    from tritonctl.io.triton_client import Endpoint

    write_tree(tmp_path / "a", {"config.pbtxt": 'backend: "python"\n', "1/model.py": "x = 1\n"})
    reads = []
    real = status_module.disk_models
    monkeypatch.setattr(status_module, "disk_models", lambda *a: reads.append(a) or real(*a))
    endpoints = [Endpoint(f"http://127.0.0.1:{port}", timeout=0.5) for port in (1, 2, 3)]  # nothing answers there
    report = fleet.fleet_status(endpoints, tmp_path)
    assert len(reads) == 1 and [r.reachable for r in report.replicas] == [False, False, False]


def test_a_model_whose_config_declares_its_tensors_is_served_without_the_model_file_readers(tmp_path):
    import subprocess
    import sys

    config = ('backend: "onnxruntime"\nmax_batch_size: 0\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
              'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n')
    write_tree(tmp_path / "m", {"config.pbtxt": config, "1/model.onnx": "not read"})
    probe = ("import sys\n"
             "from tritonctl.repository import open_repository\n"
             "from tritonctl.normalize import served\n"
             f"s = served(open_repository({str(tmp_path)!r}).model('m'))\n"
             "print(s.config.backend, s.versions, s.autofill_error)\n"
             "print(sorted(m for m in ('tritonctl.io.onnxsig', 'tritonctl.io.savedmodel') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.splitlines() == ["onnxruntime [1] None", "[]"], done.stderr
