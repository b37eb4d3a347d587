"""A hostile-input corpus: every class of malformed or pathological scenario input, in each
format, gets exit status 2 and one located line per problem, quickly, with no traceback and
without touching anything."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from simulator.cli import main
from simulator.scenario import limits

from .conftest import tiny

SVC = {
    "name": "chat",
    "model": "llama2-70b",
    "node": "dgx-a100",
    "tp": 8,
    "arrivals": {"poisson": {"rate": 1.0}},
}


def scenario(**changes) -> dict:
    """The tiny scenario with dotted-path ``changes`` (``"a.b.0.c": value``)."""
    spec = tiny()
    for dotted, value in changes.items():
        node = spec
        parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return spec


def validate(capsys, path, *extra) -> tuple[int, list[str]]:
    code = main(["validate", str(path), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def expect_problems(code, err, *fragments):
    """Exit 2; every line one problem ("error: FILE[:LINE]: PATH: MESSAGE"); each fragment in
    some line."""
    assert code == 2, err
    assert err and all(line.startswith("error: ") for line in err), err
    assert not any("Traceback" in line for line in err)
    for fragment in fragments:
        assert any(fragment in line for line in err), (fragment, err)


# ------------------------------------------------------------------- file kind and size


def test_files_that_are_not_regular_files_are_refused_without_opening(tmp_path, capsys):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it would block for ever
    (tmp_path / "dir.yaml").mkdir()
    for path in (fifo, tmp_path / "dir.yaml", "/dev/zero"):
        code, err = validate(capsys, path)
        expect_problems(code, err, f"{path}: <top level>: is ")
    include = tmp_path / "inc.yaml"
    include.write_text(yaml.safe_dump({"include": [str(fifo)], **tiny()}))
    expect_problems(*validate(capsys, include), f"{fifo}: <top level>: is not a regular file")
    trace = tmp_path / "trace.yaml"
    spec = tiny()
    spec["workload"] = {"trace": {"format": "philly", "path": str(fifo)}}
    trace.write_text(yaml.safe_dump(spec))
    expect_problems(*validate(capsys, trace), f"workload.trace.path: {fifo}: is not a regular")


def test_oversized_files_are_refused_before_reading(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(limits.MAX_FILE_BYTES + 1)
    expect_problems(*validate(capsys, big), f"may be at most {limits.MAX_FILE_BYTES:,} bytes")


# ------------------------------------------------------------------- YAML structure


def billion_laughs(levels: int = 9) -> str:
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize(
    "text, message",
    [
        (billion_laughs(), "expands (YAML aliases followed) to more than"),
        (  # merge keys are aliases too
            "m0: &m0 {"
            + ", ".join(f"k{i}: {i}" for i in range(200))
            + "}\n"
            + "".join(
                f"m{i}: &m{i} [" + ", ".join([f"*m{i - 1}"] * 50) + "]\n" for i in range(1, 4)
            )
            + "name: {<<: *m0}\n",
            "expands (YAML aliases followed) to more than",
        ),
        ("a: &a [*a]\n", "refers to a node that contains it"),
        ("name: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 64 levels"),
        (
            "\n".join(f"k{i}: &x{i} 1" for i in range(10_002))
            + "\nl: ["
            + ", ".join(f"*x{i}" for i in range(10_002))
            + "]\n",
            "more than 10,000 YAML aliases",
        ),
    ],
    ids=["billion_laughs", "merge_keys", "recursive_alias", "deep_nesting", "many_aliases"],
)
def test_yaml_structure_bombs_are_refused_before_expansion(tmp_path, capsys, text, message):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    expect_problems(*validate(capsys, path), message)


def test_deep_nesting_in_json_and_toml(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    expect_problems(*validate(capsys, deep), "nested deeper than 64 levels")
    toml = tmp_path / "deep.toml"
    toml.write_text("name = " + "[" * 200 + "]" * 200 + "\n")
    expect_problems(*validate(capsys, toml), "nested deeper than 64 levels")


def test_include_chains_are_bounded(tmp_path, capsys):
    for i in range(2000):
        (tmp_path / f"c{i}.yaml").write_text(f"include: c{i + 1}.yaml\n")
    (tmp_path / "c2000.yaml").write_text(yaml.safe_dump(tiny()))
    expect_problems(*validate(capsys, tmp_path / "c0.yaml"), "includes nest deeper than 16")
    wide = tmp_path / "wide.yaml"
    names = [f"w{i}.yaml" for i in range(300)]
    for name in names:
        (tmp_path / name).write_text("description: x\n")
    wide.write_text(yaml.safe_dump({"include": names, **tiny()}))
    expect_problems(*validate(capsys, wide), "more than 256 files are included")


# ------------------------------------------------------------------- values


HUGE = 10**400


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_huge_integers_long_strings_and_non_finite_numbers_in_every_format(tmp_path, capsys, fmt):
    path = tmp_path / f"s.{fmt}"
    if fmt == "toml":
        path.write_text(f'seed = {HUGE}\ndescription = "{"x" * 20_000}"\nhorizon = inf\n')
    else:
        data = {"seed": HUGE, "description": "x" * 20_000, "horizon": float("inf")}
        text = json.dumps(data) if fmt == "json" else yaml.safe_dump(data)
        path.write_text(text.replace("Infinity", "Infinity" if fmt == "json" else ".inf"))
    code, err = validate(capsys, path)
    expect_problems(
        code,
        err,
        "seed: the integer is too large (401 digits",
        "description: the string is 20,000 characters long",
        "horizon: must be a finite number, got inf",
    )
    assert len(err) == 3


def test_a_ten_megabyte_name_is_refused_at_once(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny()).replace("name: tiny", "name: " + "n" * 10_000_000))
    expect_problems(*validate(capsys, path), "name: the string is 10,000,000 characters")


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"horizon": ".inf"}, "horizon: must be a finite number"),
        (
            {"workload.training.0.duration": {"lognormal": {"median": 60, "sigma": float("inf")}}},
            "workload.training.0.duration.lognormal.sigma: must be a finite number",
        ),
        (
            {"workload.training.0.duration": {"lognormal": {"median": 60, "sigma": 50}}},
            "workload.training.0.duration.lognormal.sigma: Input should be less than or equal to 5",
        ),
        (
            {"workload.training.0.gpus": {"choice": [1, 2], "weights": [float("inf"), 1]}},
            "workload.training.0.gpus.weights.0: must be a finite number",
        ),
        (
            {"workload.training.0.gpus": {"choice": [1, 2], "weights": [1e308, 1e308]}},
            "weights are too large",
        ),
        ({"workload.training.0.duration": 1e300}, "at most 1e+09 s"),
        ({"scheduler": {"restart": {"save": 1e300}}}, "scheduler.restart.save: at most 1e+09 s"),
        (
            {"cluster.datacenters.0.network": {"tor_oversubscription": 1e300}},
            "tor_oversubscription: Input should be less than or equal to 1000",
        ),
        ({"workload.training.0.duration": -5}, "must be > 0"),
    ],
    ids=[
        "inf_horizon",
        "inf_sigma",
        "huge_sigma",
        "inf_weight",
        "overflowing_weights",
        "huge_duration",
        "huge_save",
        "huge_oversubscription",
        "negative_duration",
    ],
)
def test_values_that_are_not_finite_or_not_physical(tmp_path, capsys, changes, fragment):
    path = tmp_path / "s.yaml"
    text = yaml.safe_dump(scenario(**changes)).replace("'.inf'", ".inf")
    path.write_text(text)
    expect_problems(*validate(capsys, path), fragment)


# ------------------------------------------------------------------- estimated size


@pytest.mark.parametrize(
    "changes, fragment",
    [
        (
            {"workload.training.0.count": 10**9, "workload.training.0.arrival": {"interval": 1}},
            "workload.training.0: about 1,000,000,001 jobs expected (1,000,000,000 from this",
        ),
        (
            {"horizon": 86400.0, "workload.training.0.arrival": {"poisson": {"rate": 1e4}}},
            "(864,000,000 from this stream), over limits.max_jobs = 5,000,000",
        ),
        (
            {"horizon": 3600.0, "workload.training.0.arrival": {"interval": "1ns"}},
            "(3,600,000,000,000 from this stream)",
        ),
        (
            {"cluster.datacenters.0.node_groups.0.count": 10**9},
            "cluster: 1,000,000,000 nodes, over limits.max_nodes = 100,000",
        ),
        (  # found by the mutation property: 3e16 devices per node exhausted memory
            {"cluster.datacenters.0.node_groups.0.node": {"chip": "h100-sxm", "gpus": 3 * 10**16}},
            "devices, over limits.max_gpus = 10,000,000",
        ),
        (
            {
                "horizon": 86400.0,
                "workload.services": [{**SVC, "arrivals": {"poisson": {"rate": 1e7}}}],
            },
            "about 864,000,000,000 requests expected",
        ),
        (
            {"horizon": 86400.0, "scheduler": {"round": "1ns"}},
            "limits.max_events: about 86,400,000,000,00",
        ),
        (
            {
                "horizon": 3600.0,
                "scheduler": {"policy": {"name": "las", "params": {"quantum": 1e-6}}},
            },
            "scheduler.policy: about 3,600,00",
        ),
    ],
    ids=[
        "count_1e9",
        "rate_per_second_typo",
        "interval_1ns",
        "1e9_nodes",
        "3e16_gpus_per_node",
        "1e7_requests_per_s",
        "round_1ns",
        "quantum_1us",
    ],
)
def test_accidentally_huge_scenarios_are_refused_with_their_estimate(
    tmp_path, capsys, changes, fragment
):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(**changes)))
    code, err = validate(capsys, path)
    expect_problems(code, err, fragment)
    (line,) = [line for line in err if fragment in line]
    assert "limits." in line  # it says which limit, and how to raise it


def test_limits_can_be_raised_on_purpose(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(**{"cluster.datacenters.0.node_groups.0.count": 3})))
    code, err = validate(capsys, path, "--set", "limits.max_nodes=2")
    expect_problems(code, err, "3 nodes, over limits.max_nodes = 2")
    assert main(["validate", str(path), "--set", "limits.max_nodes=3"]) == 0


def test_spot_reclaims_count_as_events(tmp_path, capsys):
    spec = tiny(horizon=86400.0)
    group = spec["cluster"]["datacenters"][0]["node_groups"][0]
    group |= {"pricing": "spot", "elastic": {"min": 0, "initial": 1}, "spot_reclaim_rate": 1e6}
    spec["scheduler"] = {"autoscaler": "queue"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    expect_problems(*validate(capsys, path), "simulation events expected")


# ------------------------------------------------------------------- --set


@pytest.mark.parametrize(
    "item, fragment",
    [
        (".=1", "error: --set: .=1: KEY must be a dotted path"),
        ("a..b=1", "KEY must be a dotted path"),
        ("include=x.yaml", "include cannot be overridden"),
        (f"seed={HUGE}", "error: --set: seed: the integer is too large"),
        ("horizon=.inf", "horizon: must be a finite number"),
        ("name=[[[[", None),  # not YAML: taken as the string "[[[[" (a valid name)
        ("noequals", "expected KEY=VALUE"),
    ],
)
def test_set_overrides_are_checked_like_files(tmp_path, capsys, item, fragment):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny()))
    code, err = validate(capsys, path, "--set", item)
    if fragment is None:
        assert code == 0, err
    else:
        expect_problems(code, err, fragment)
        assert not any("s.yaml:1" in line for line in err)  # --set is not the file's line 1


# ------------------------------------------------------------------- validate == run


def test_validate_runs_every_check_run_makes_before_simulating(tmp_path, capsys):
    fpga = tiny()
    fpga["cluster"]["datacenters"][0]["node_groups"][0]["node"] = {"chip": "alveo-u280", "gpus": 8}
    fpga["workload"]["training"][0] = {
        "name": "m",
        "arrival": {"times": [0]},
        "gpus": 8,
        "model": {"name": "gpt-1.3b", "global_batch": 64, "iterations": 10},
    }
    small = tiny(horizon=600.0)
    small["cluster"]["datacenters"][0]["node_groups"][0]["node"] = "dgx-a100"
    small["workload"]["services"] = [{**SVC, "tp": 1}]
    for spec, fragment in (
        (fpga, "workload.training.0.model: alveo-u280 publishes no mixed-precision peak"),
        (small, "workload.services.0.tp: llama2-70b does not fit on 1 devices of dgx-a100"),
    ):
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(spec))
        expect_problems(*validate(capsys, path), fragment)
        code = main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"])
        expect_problems(code, capsys.readouterr().err.strip().splitlines(), fragment)
        assert not (tmp_path / "out").exists()


def test_an_engine_error_is_one_line_and_exit_3(tmp_path, capsys, monkeypatch):
    from simulator.engine import Simulation

    def broken(self, progress=None):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(Simulation, "run", broken)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny()))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: internal error: ZeroDivisionError: float division by zero")
    assert "please report it" in line
    assert not (tmp_path / "out").exists()


def test_json_and_toml_documents_are_bounded_in_values_too(tmp_path, capsys):
    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"description": list(range(limits.MAX_VALUES + 1))}))
    expect_problems(*validate(capsys, path), f"holds more than {limits.MAX_VALUES:,} values")


def test_problems_survive_pickling_from_bench_workers():
    import pickle

    from simulator.scenario import Problem, ScenarioError

    error = ScenarioError([Problem("s.yaml", "horizon", "must be > 0", 3)])
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems and str(again) == str(error)


def test_bench_checks_what_run_would_before_starting_workers(tmp_path, capsys):
    trace = tmp_path / "philly.csv"
    trace.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n0,inf,1,1,a\n")
    spec = tiny()
    spec["workload"] = {"trace": {"format": "philly", "path": str(trace)}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "b"
    code = main(["bench", str(path), "--seeds", "2", "--workers", "2", "--out", str(out)])
    expect_problems(code, capsys.readouterr().err.strip().splitlines(), f"{trace}:2: column")
    assert not out.exists()


def test_a_run_past_its_event_limit_stops_with_one_line(tmp_path, capsys, monkeypatch):
    """The estimate cannot see a model job's run time; the engine's own count stops it."""
    from simulator.engine import Simulation

    monkeypatch.setattr(Simulation, "PROGRESS_EVERY", 500)  # the limit is checked this often
    spec = tiny(limits={"max_events": 2_000})
    spec["workload"]["training"] = [  # two jobs for one node: LAS swaps them every second
        {
            "name": "m",
            "count": 2,
            "arrival": {"times": [0, 0]},
            "gpus": 8,
            "model": {"name": "gpt-1.3b", "global_batch": 64, "iterations": 1.0e7},
        }
    ]
    spec["scheduler"] = {"policy": {"name": "las", "params": {"quantum": 1.0}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: <run>: limits.max_events: the run passed limits.max_events")
    assert not out.exists()


def test_a_huge_count_cut_short_by_the_horizon_generates_only_what_arrives(tmp_path):
    """Found by the mutation property: 3.5e9 jobs every 20 min in a 2 h horizon are 6 jobs;
    the generator must not allocate the count first."""
    import simulator

    for arrival in ({"interval": "20m"}, {"poisson": {"rate": "3/h"}}):
        spec = tiny(horizon=7200.0)
        spec["workload"]["training"] = [
            {"name": "s", "count": 3_535_858_713, "arrival": arrival, "gpus": 1, "duration": 60}
        ]
        results = simulator.run(spec)
        assert 0 < results.summary["jobs_submitted"] <= 30
        if "interval" in arrival:
            assert results.summary["jobs_submitted"] == 7  # t = 0, 20m, ..., 2h
