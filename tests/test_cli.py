"""The command line: exit codes, one line per problem, no traceback, nothing corrupted."""

import hashlib
import json
import subprocess
import sys

import pytest
import yaml

from simulator.cli import main

from .conftest import ROOT, tiny

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def digest(directory):
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_run_writes_results_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["run", str(QUICKSTART), "--out", str(out), "--set", "horizon=3d", "--seed", "3"]) == 0
    )
    printed = capsys.readouterr().out
    assert "mean_jct_s" in printed and "gpu_utilization" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["window_end_s"] <= 3 * 86400
    assert yaml.safe_load((out / "config.resolved.yaml").read_text())["seed"] == 3


def test_bad_input_exits_2_with_one_line_per_problem_and_keeps_old_results(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet"]) == 0
    before = digest(out)
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load(QUICKSTART.read_text())
    data["horizon"] = "4/h"
    data["workload"]["training"][0]["gpus"] = 64
    data["extra"] = 1
    bad.write_text(yaml.safe_dump(data))
    res = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2, res.stderr  # the impossible request is checked once structure is ok
    assert all(line.startswith(f"error: {bad}:") for line in lines)
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert digest(out) == before


def test_semantic_problem_after_structure_is_fixed(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load(QUICKSTART.read_text())
    data["workload"]["training"][0]["gpus"] = 64
    bad.write_text(yaml.safe_dump(data))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "workload.training.0.gpus: asks for 64 GPUs but the cluster has only 32" in err


def test_failed_save_leaves_previous_results_intact(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet"]) == 0
    before = digest(out)
    import simulator.plotting

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(simulator.plotting, "save_plots", boom)
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--seed", "1"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert digest(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temp debris


@pytest.mark.parametrize(
    "args",
    [
        ["run", "does-not-exist.yaml"],
        ["run", str(QUICKSTART), "--set", "nokey"],
        ["run", str(QUICKSTART), "--set", "scheduler.policy=lifo"],
        ["validate", "does-not-exist.yaml"],
    ],
)
def test_other_bad_inputs_exit_2(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_unknown_policy_lists_valid_names(capsys):
    main(["validate", str(QUICKSTART), "--set", "scheduler.placement=best"])
    err = capsys.readouterr().err
    assert "unknown placement policy 'best'; did you mean 'best_fit'? valid: best_fit," in err
    assert err.count("\n") == 1


def test_validate_ok_and_schema(tmp_path, capsys):
    assert main(["validate", str(QUICKSTART)]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    assert schema["additionalProperties"] is False
    assert {"cluster", "workload", "include", "horizon"} <= set(schema["properties"])


def test_schema_accepts_every_bundled_scenario(tmp_path, capsys):
    import jsonschema

    main(["schema"])
    schema = json.loads(capsys.readouterr().out)
    paths = list((ROOT / "scenarios").rglob("*.yaml"))
    assert len(paths) >= 5
    for path in paths:  # scenarios and the components they include
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    bad = yaml.safe_load(QUICKSTART.read_text()) | {"horizonn": "1d"}
    with pytest.raises(jsonschema.ValidationError, match="horizonn"):
        jsonschema.validate(bad, schema)


def test_mapping_scenarios_report_a_label(capsys):
    from simulator.scenario import ScenarioError, load_scenario

    spec = tiny()
    spec["seed"] = -1
    with pytest.raises(ScenarioError, match=r"^<mapping>: seed: "):
        load_scenario(spec)


def test_progress_bar_appears_on_long_runs(tmp_path, monkeypatch):
    from simulator import cli

    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.0)
    shown = []
    real_update = cli._ProgressBar.update

    def spy(self, now, finished):
        real_update(self, now, finished)
        shown.append(self.progress is not None)

    monkeypatch.setattr(cli._ProgressBar, "update", spy)
    assert main(["run", str(QUICKSTART), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    assert shown and all(shown)
    assert not (tmp_path / "r" / "plots").exists()
