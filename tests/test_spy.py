"""Spy plots: the non-zero pattern, its axis labels, the image size, the CLI."""

from __future__ import annotations

import os
import struct
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from jacobian_calc import JacobianError, jacobian, jacobians
from jacobian_calc.cli.main import main
from jacobian_calc.render.spy import DPI, MAX_TICKS, figure_size, pattern, spy, spy_figure

pytest.importorskip("matplotlib")

SHAPES = {"X": (4, 3), "W": (3, 2), "b": (2,)}


def png_size(path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_pattern_is_the_flattened_nonzero_structure():
    J = jacobian("X@W", wrt="W", shapes={"X": (2, 3), "W": (3, 2)})
    expected = J.flatten().applyfunc(lambda e: int(e != 0))
    assert pattern(J).astype(int).tolist() == expected.tolist()
    assert (pattern(J.with_layout("denominator")) == pattern(J).T).all()


def test_elementwise_map_is_diagonal():
    """The notes' N = 1024 point, at N = 64: N² entries, N of them non-zero."""
    mask = pattern(jacobian("sigmoid(x)", wrt="x", shapes={"x": 64}))
    assert (mask == np.eye(64, dtype=bool)).all()


@pytest.mark.parametrize("dpi", [DPI, 72])
def test_image_has_figure_size_times_dpi_pixels(tmp_path, dpi):
    results = jacobians("sigmoid(X@W + b)", wrt="W,b", shapes=SHAPES)
    path = tmp_path / "pattern.png"
    returned = spy(results, str(path), dpi=dpi)
    width, height = figure_size(results)
    expected = (round(width * dpi), round(height * dpi))
    assert png_size(path) == expected == returned


def test_axes_name_the_entries():
    results = jacobians("sigmoid(X@W + b)", wrt="W,b", shapes=SHAPES)
    axes = spy_figure(results).axes
    assert len(axes) == 2
    labels = [[t.get_text() for t in ax.get_xticklabels()] for ax in axes]
    assert labels == [["W11", "W12", "W21", "W22", "W31", "W32"], ["b1", "b2"]]
    rows = [t.get_text() for t in axes[0].get_yticklabels()]
    assert rows == ["Y11", "Y12", "Y21", "Y22", "Y31", "Y32", "Y41", "Y42"]
    assert "24 of 48 non-zero" in axes[0].get_title()


def test_denominator_layout_swaps_the_axes():
    J = jacobian("A@x", wrt="x", shapes={"A": (2, 3), "x": 3}, layout="denominator")
    [ax] = spy_figure(J).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x1", "x2", "x3"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["y1", "y2"]


def test_many_entries_are_labelled_sparsely():
    [ax] = spy_figure(jacobian("sigmoid(x)", wrt="x", shapes={"x": 100})).axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) <= MAX_TICKS and labels[0] == "x1"


def test_gradients_and_chains_draw_their_jacobians(tmp_path):
    [J] = jacobians("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    assert spy(J, str(tmp_path / "g.png")) == png_size(tmp_path / "g.png")


def test_missing_matplotlib_is_a_clear_error(monkeypatch, tmp_path):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(JacobianError, match=r"needs matplotlib.*jacobian_calc\[plot\]"):
        spy(jacobian("x*y"), str(tmp_path / "p.png"))
    result = CliRunner().invoke(main, ["x*y", "--spy", str(tmp_path / "p.png")])
    assert result.exit_code == 2 and "pip install" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_spy_writes_the_png_besides_the_text(tmp_path):
    path = tmp_path / "pattern.png"
    result = CliRunner().invoke(main, ["sigmoid(X@W + b)", "--wrt", "W,b", "--shape", "X=4x3",
                                       "--shape", "W=3x2", "--shape", "b=2",
                                       "--spy", str(path)])
    assert result.exit_code == 0, result.output
    assert "Jacobian" in result.output
    results = jacobians("sigmoid(X@W + b)", wrt="W,b", shapes=SHAPES)
    width, height = figure_size(results)
    assert png_size(path) == (round(width * DPI), round(height * DPI))


def test_cli_spy_with_backprop(tmp_path):
    path = tmp_path / "pattern.png"
    result = CliRunner().invoke(main, ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--backprop",
                                       "--shape", "X=4x3", "--shape", "W=3x2", "--shape",
                                       "b=2", "--spy", str(path)])
    assert result.exit_code == 0, result.output
    assert png_size(path)[0] > 100


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(JacobianError, match="No space left"):
        spy(jacobian("x*y"), str(tmp_path / "p.png"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])
def test_spy_writes_the_format_its_suffix_names(tmp_path, suffix, magic):
    path = tmp_path / f"pattern{suffix}"
    result = CliRunner().invoke(main, ["x1*x2, x2", "--wrt", "x1,x2", "--spy", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(magic)


def test_spy_refuses_an_unknown_format(tmp_path):
    path = tmp_path / "pattern.jpg"
    result = CliRunner().invoke(main, ["x1*x2", "--spy", str(path)])
    assert result.exit_code == 2 and ".png, .svg or .pdf" in result.output
    assert not path.exists()


def test_files_are_written_with_the_umask(tmp_path):
    import os
    import stat
    old = os.umask(0o022)
    try:
        out, pattern = tmp_path / "out.txt", tmp_path / "pattern.png"
        result = CliRunner().invoke(main, ["x1*x2", "-o", str(out), "--spy", str(pattern)])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        assert stat.S_IMODE(pattern.stat().st_mode) == 0o644
    finally:
        os.umask(old)
