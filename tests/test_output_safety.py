"""``--out`` never damages what clustersim did not write: refusals happen before simulating and
leave everything byte-identical; run names are sanitised; staged writes clean up on every exit
path (an error, Ctrl-C, SIGTERM)."""

from __future__ import annotations

import json
import os
import signal

import pytest
import yaml

import simulator.runner
from simulator.cli import main
from simulator.outdir import OutputError, Terminated, check_out, safe_name, staged

from .conftest import tiny
from .test_cli import digest


def scenario(tmp_path, **extra):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny(**extra)))
    return path


def tree(directory):
    """Every path under ``directory`` with its bytes' digest (directories as None)."""
    files = digest(directory)
    dirs = {p.relative_to(directory).as_posix(): None for p in directory.rglob("*") if p.is_dir()}
    return files | dirs


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if anything is simulated: refusals must come first."""

    def boom(*a, **k):
        raise AssertionError("simulated before refusing --out")

    monkeypatch.setattr(simulator.runner, "build", boom)


@pytest.mark.parametrize("what", ["user_dir", "file", "scenario_itself", "symlink", "bench_dir"])
def test_out_refuses_what_is_not_a_run_directory_and_leaves_it_identical(
    tmp_path, capsys, no_simulation, what
):
    s = scenario(tmp_path)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "thesis.tex").write_text("\\chapter{years of work}\n")
    (tmp_path / "victim" / "sub").mkdir()
    (tmp_path / "victim" / "sub" / "data.bin").write_bytes(os.urandom(64))
    (tmp_path / "notes.txt").write_text("notes\n")
    (tmp_path / "link").symlink_to(tmp_path / "victim")
    (tmp_path / "bench").mkdir()
    bench = {"clustersim": "0", "kind": "bench"}
    (tmp_path / "bench" / "manifest.json").write_text(json.dumps(bench))
    target = {
        "user_dir": tmp_path / "victim",
        "file": tmp_path / "notes.txt",
        "scenario_itself": s,
        "symlink": tmp_path / "link",
        "bench_dir": tmp_path / "bench",
    }[what]
    before = tree(tmp_path)
    assert main(["run", str(s), "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {target}: --out: ")
    assert tree(tmp_path) == before  # byte-identical, and no temporaries left beside it


def test_out_refuses_the_working_directory_and_its_parents(tmp_path, monkeypatch, no_simulation):
    s = scenario(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out in (".", "..", "/", str(tmp_path)):
        with pytest.raises(OutputError, match="working directory"):
            check_out(out)
        assert main(["run", str(s), "--out", out, "--quiet"]) == 2
    assert list(work.iterdir()) == []


def test_out_refuses_an_unwritable_place_before_simulating(tmp_path, capsys, no_simulation):
    s = scenario(tmp_path)
    assert main(["run", str(s), "--out", "/proc/clustersim-run", "--quiet"]) == 2
    assert "cannot write in /proc" in capsys.readouterr().err


def test_a_run_directory_and_an_empty_directory_are_replaced(tmp_path):
    s = scenario(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["run", str(s), "--out", str(out), "--quiet", "--no-plots"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "run"
    (out / "stale.txt").write_text("from an older run")  # inside a run directory: replaced
    assert main(["run", str(s), "--out", str(out), "--quiet", "--no-plots", "--seed", "2"]) == 0
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.yaml"]


def test_bench_out_is_a_bench_directory_and_refuses_run_directories(tmp_path, capsys):
    s = scenario(tmp_path)
    run_dir = tmp_path / "run"
    assert main(["run", str(s), "--out", str(run_dir), "--quiet", "--no-plots"]) == 0
    before = tree(run_dir)
    args = ["bench", str(s), "--seeds", "1", "--workers", "1", "--no-plots"]
    assert main([*args, "--out", str(run_dir)]) == 2
    assert "is a clustersim run directory" in capsys.readouterr().err
    assert tree(run_dir) == before
    out = tmp_path / "bench"
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["kind"] == "bench"
    assert main([*args, "--out", str(out)]) == 0  # its own kind: replaced


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../victim", "victim"),
        ("/etc/passwd", "etc_passwd"),
        ("..", "run"),
        (".hidden", "hidden"),
        ("a b\\c", "a_b_c"),
        ("x" * 300, "x" * 100),
    ],
)
def test_names_from_scenarios_are_one_harmless_path_component(name, expected):
    assert safe_name(name) == expected


def test_a_scenario_name_never_reaches_outside_runs(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keep.txt").write_text("keep")
    spec = tiny()
    spec["name"] = "../../victim"
    (work / "s.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(work)
    before = tree(tmp_path / "victim")
    assert main(["run", "s.yaml", "--quiet", "--no-plots"]) == 0
    assert (work / "runs" / "victim" / "manifest.json").exists()
    assert tree(tmp_path / "victim") == before


@pytest.mark.parametrize("stop", ["error", "ctrl_c", "sigterm"])
def test_staged_removes_its_temporary_on_every_exit_path(tmp_path, stop):
    out = tmp_path / "out"
    raised = {"error": RuntimeError, "ctrl_c": KeyboardInterrupt, "sigterm": Terminated}[stop]
    with pytest.raises(raised), staged(out) as tmp:
        (tmp / "half.parquet").write_bytes(b"half")
        if stop == "error":
            raise RuntimeError("disk full")
        if stop == "ctrl_c":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(10))  # the handler runs between bytecodes
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_cli_turns_sigterm_into_a_clean_exit(tmp_path, monkeypatch, capsys):
    s = scenario(tmp_path)
    out = tmp_path / "out"

    def killed(*a, **k):
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(10))

    monkeypatch.setattr("simulator.plotting.save_plots", killed)
    assert main(["run", str(s), "--out", str(out), "--quiet"]) == 143
    assert capsys.readouterr().err.strip() == "terminated"
    assert list(tmp_path.iterdir()) == [s]
