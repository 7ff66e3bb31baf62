"""`reenact export`: ONNX re-export checked against torch; TensorRT's absence named in one line."""

from __future__ import annotations

import shutil

from reenact.errors import BackendUnavailableError
from reenact.model_folder import open_model
from reenact.runtime.tensorrt_backend import import_tensorrt
from tests.test_cli_track import assert_one_clear_line, run_cli


def test_export_onnx_rewrites_the_file_and_checks_it(capsys, tmp_path, random_model):
    folder = tmp_path / "model"
    shutil.copytree(random_model.path, folder)
    (folder / "generator.onnx").unlink()
    code, stdout, _ = run_cli(capsys, "export", str(folder), "--format", "onnx")
    assert code == 0 and "ONNX Runtime vs torch" in stdout
    assert open_model(folder).model_hash() == random_model.model_hash()  # same weights, same export


def test_export_errors(capsys, tmp_path, random_model):
    code, _, err = run_cli(capsys, "export", str(tmp_path / "absent"), "--format", "onnx")
    assert_one_clear_line(code, err, "not found")
    code, _, err = run_cli(capsys, "export", str(random_model.path), "--format", "onnx", "--fp16")
    assert_one_clear_line(code, err, "--fp16")
    try:
        import_tensorrt()
    except BackendUnavailableError:
        code, _, err = run_cli(capsys, "export", str(random_model.path), "--format", "tensorrt")
        assert_one_clear_line(code, err, "pip install")
