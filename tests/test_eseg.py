"""The one .eseg reader: values, and every way a label file can be wrong (one MeshError each)."""

from __future__ import annotations

import numpy as np
import pytest

from meshcnn_core.data.eseg import ESEG_ROW_BYTES, mesh_labels, read_eseg
from meshcnn_core.errors import MeshError


def test_reads_whole_numbers_written_as_floats_or_ints(tmp_path):
    p = tmp_path / "a.eseg"
    p.write_text("1\n2.0\n3\n4\n")
    out = read_eseg(p, 4)
    assert out.dtype == np.int64 and out.tolist() == [1, 2, 3, 4]
    assert read_eseg(p).tolist() == [1, 2, 3, 4]  # no count given: no count checked


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1\n2\n3\n", "has 3 labels but the mesh has 4 edges"),
        ("", "has 0 labels but the mesh has 4 edges"),
        ("1\n2.5\n3\n4\n", "whole numbers"),
        ("1\nnan\n3\n4\n", "whole numbers"),
        ("1\n1e300\n3\n4\n", "whole numbers"),
        ("1\nhead\n3\n4\n", "not a list of numbers"),
    ],
)
def test_bad_label_files(tmp_path, text, words):
    p = tmp_path / "bad.eseg"
    p.write_text(text)
    with pytest.raises(MeshError, match=words) as err:
        read_eseg(p, 4)
    assert "bad.eseg" in str(err.value)


def test_a_huge_file_is_not_read(tmp_path):
    p = tmp_path / "huge.eseg"
    p.write_text("1\n" * (ESEG_ROW_BYTES * 4))
    with pytest.raises(MeshError, match="far too large for 4 labels"):
        read_eseg(p, 4)


def test_a_data_set_mesh_without_labels(tmp_path):
    (tmp_path / "seg").mkdir()
    with pytest.raises(MeshError, match=r"m\.obj: no label file seg/m\.eseg"):
        mesh_labels(tmp_path, tmp_path / "train" / "m.obj")
    (tmp_path / "seg" / "m.eseg").write_text("2\n1\n")
    assert mesh_labels(tmp_path, tmp_path / "train" / "m.obj", 2).tolist() == [2, 1]


def _seg_set(root, eseg: str, seseg: str | None = None):
    """A one-mesh segmentation set (a tetrahedron: 6 edges) with these label files."""
    from meshcnn_core.mesh.io import write_obj

    from .meshes import tetrahedron

    for d in ("train", "test", "seg", "sseg"):
        (root / d).mkdir(parents=True)
    write_obj(root / "train" / "m.obj", tetrahedron())
    (root / "seg" / "m.eseg").write_text(eseg)
    if seseg is not None:
        (root / "sseg" / "m.seseg").write_text(seseg)
    return root


def test_data_set_label_files_that_are_broken(tmp_path):
    from meshcnn_core.data.datasets import MeshDataset, scan_dataset

    with pytest.raises(MeshError, match="m.eseg: not a list of numbers"):
        scan_dataset(_seg_set(tmp_path / "a", "1\nhead\n1\n2\n2\n2\n"))  # no classes.txt: values read here
    ok = scan_dataset(_seg_set(tmp_path / "b", "1\n1\n1\n2\n2\n2\n", "1 0\n1 0\n1 0\n0 1\n0 1\n"))
    assert ok.class_names == ["1", "2"]
    with pytest.raises(MeshError, match=r"m.seseg: 5 rows of 2 soft labels, expected 6 rows"):
        MeshDataset(ok, "train")[0]
    bad = scan_dataset(_seg_set(tmp_path / "c", "1\n1\n1\n2\n2\n2\n", "1 0\n1 x\n1 0\n0 1\n0 1\n0 1\n"))
    with pytest.raises(MeshError, match="m.seseg: not rows of numbers"):
        MeshDataset(bad, "train")[0]
    good = scan_dataset(_seg_set(tmp_path / "d", "1\n1\n1\n2\n2\n2\n", "1 0\n1 0\n1 1\n0 1\n0 1\n0 1\n"))
    sample = MeshDataset(good, "train")[0]
    assert sample.label.tolist() == [0, 0, 0, 1, 1, 1] and sample.soft[2].tolist() == [1, 1]
