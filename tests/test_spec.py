"""Scenario loading: formats, includes, overrides, and one clear line per problem."""

import json

import pytest
import yaml

from simulator.scenario import ScenarioError, dump_scenario, load_scenario

from .conftest import ROOT, tiny

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def write(path, data):
    path.write_text(yaml.safe_dump(data) if isinstance(data, dict) else data)
    return path


def problems(source, overrides=(), **kw):
    with pytest.raises(ScenarioError) as e:
        load_scenario(source, overrides, **kw)
    return [str(p) for p in e.value.problems]


def test_quickstart_loads_with_units_in_si():
    s = load_scenario(QUICKSTART)
    assert s.horizon == 14 * 86400
    stream = s.workload.training[0]
    assert stream.arrival.poisson.rate == pytest.approx(4 / 3600)
    assert stream.duration.lognormal.median == 3600
    assert s.cluster.total_gpus == 32


def test_scenario_is_immutable():
    s = load_scenario(QUICKSTART)
    with pytest.raises(Exception, match="frozen"):
        s.seed = 3


def test_toml_and_json_give_the_same_scenario(tmp_path):
    data = yaml.safe_load(QUICKSTART.read_text())
    (tmp_path / "q.json").write_text(json.dumps(data))
    toml = """name = "quickstart"\nseed = 7\nhorizon = "14d"\n
[[cluster.datacenters]]\nname = "dc1"\n
[[cluster.datacenters.node_groups]]\nname = "h100"\nnode = "dgx-h100"\ncount = 4
nodes_per_rack = 2\n
[scheduler]\npolicy = "fifo"\nplacement = "first_fit"\n
[[workload.training]]\nname = "research"\ncount = 400\narrival = {poisson = {rate = "4/h"}}
gpus = {choice = [1, 2, 4, 8, 16], weights = [0.4, 0.2, 0.2, 0.15, 0.05]}
duration = {lognormal = {median = "1h", sigma = 1.0}}
"""
    (tmp_path / "q.toml").write_text(toml)
    base = load_scenario(QUICKSTART)
    assert load_scenario(tmp_path / "q.json") == base
    assert load_scenario(tmp_path / "q.toml") == base


def test_dump_round_trips(tmp_path):
    s = load_scenario(QUICKSTART)
    (tmp_path / "r.yaml").write_text(dump_scenario(s))
    assert load_scenario(tmp_path / "r.yaml") == s


def test_include_merges_relative_to_including_file_and_local_keys_win(tmp_path):
    (tmp_path / "parts").mkdir()
    base = tiny()
    cluster = {"cluster": base.pop("cluster"), "seed": 5, "name": "from-component"}
    write(tmp_path / "parts" / "cluster.yaml", cluster)
    write(tmp_path / "parts" / "more.yaml", {"include": "cluster.yaml", "seed": 6})
    write(tmp_path / "main.yaml", {**base, "include": ["parts/more.yaml"]})
    s = load_scenario(tmp_path / "main.yaml")
    assert s.name == "tiny"  # the including file wins
    assert s.seed == 6  # a later include wins over an earlier one
    assert s.cluster.total_gpus == 8


def test_include_cycle_and_missing_file_are_reported(tmp_path):
    write(tmp_path / "a.yaml", {"include": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"include": "a.yaml"})
    assert any("include cycle" in p for p in problems(tmp_path / "a.yaml"))
    write(tmp_path / "c.yaml", {"include": "missing.yaml", "name": "c"})
    out = problems(tmp_path / "c.yaml")
    assert any("cannot include 'missing.yaml'" in p for p in out)
    assert any("missing.yaml: <top level>: file not found" in p for p in out)


def test_problem_lines_point_into_the_included_file(tmp_path):
    base = tiny()
    base["cluster"]["datacenters"][0]["node_groups"][0]["count"] = 0
    write(tmp_path / "cluster.yaml", {"cluster": base.pop("cluster")})
    write(tmp_path / "main.yaml", {**base, "include": "cluster.yaml"})
    (line,) = problems(tmp_path / "main.yaml")
    assert line.startswith(f"{tmp_path / 'cluster.yaml'}:")
    assert "cluster.datacenters.0.node_groups.0.count" in line


def test_problems_in_a_list_that_replaces_an_included_one_point_at_the_replacement(tmp_path):
    base = tiny()
    write(tmp_path / "cluster.yaml", {"cluster": base["cluster"]})
    base["cluster"]["datacenters"][0]["node_groups"][0]["count"] = -3
    # JSON has no line numbers, so nothing of main.json would mask a stale included location
    write(tmp_path / "main.json", json.dumps({**base, "include": "cluster.yaml"}))
    (line,) = problems(tmp_path / "main.json")
    assert line.startswith(f"{tmp_path / 'main.json'}: cluster.datacenters.0")
    # a key missing from the replacement is located in the replacement, not in the include
    del base["cluster"]["datacenters"][0]["node_groups"][0]["count"]
    write(tmp_path / "main.yaml", {**base, "include": "cluster.yaml"})
    (line,) = problems(tmp_path / "main.yaml")
    assert line.startswith(f"{tmp_path / 'main.yaml'}:")
    assert "node_groups.0.count: required key is missing" in line


def test_overrides_set_nested_values_parsed_as_yaml(tmp_path):
    s = load_scenario(
        QUICKSTART,
        [
            "workload.training.0.count=50",
            "horizon=2d",
            "scheduler.placement=first_fit",
            "check_invariants=true",
        ],
        seed=99,
    )
    assert s.workload.training[0].count == 50
    assert s.horizon == 2 * 86400
    assert s.check_invariants is True
    assert s.seed == 99
    s2 = load_scenario(QUICKSTART, {"cluster.datacenters.0.node_groups.0.count": 8})
    assert s2.cluster.total_gpus == 64


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("workload.training.3.count=1", "index 3 out of range"),
        ("name.first=x", "its parent is a str"),
        ("workload.training.x=1", "needs a numeric index"),
        ("justakey", "expected KEY=VALUE"),
    ],
)
def test_bad_overrides(override, needle):
    (line,) = problems(QUICKSTART, [override])
    assert line.startswith("--set: ") and needle in line


def test_override_value_errors_point_at_set():
    (line,) = problems(QUICKSTART, ["horizon=4/h"])
    assert line.startswith("--set: horizon: '4/h' is a rate")


BAD = """\
name: bad
horizonn: 2d
cluster:
  datacenters:
    - name: dc1
      node_groups:
        - name: h100
          node: dgx-h10
          count: 2
        - name: x
          node: {chip: h100-sxm, gpus: 0}
          count: 2
workload:
  training:
    - name: research
      count: 10
      arrival: {poisson: {rate: -4/h}}
      gpus: {choice: [1, 2], weights: [1]}
      duration: {lognormal: {median: 1h, sigma: 1.0}, constant: 1h}
    - name: r2
      count: 3
      arrival: {interval: 1m}
      duration: 1/h
"""


def test_every_problem_is_reported_at_once_with_file_line_and_path(tmp_path):
    f = write(tmp_path / "bad.yaml", BAD)
    out = problems(f)
    expected = [
        (2, "horizonn", "unknown key 'horizonn'; did you mean 'horizon'?"),
        (
            8,
            "cluster.datacenters.0.node_groups.0.node",
            "unknown node template 'dgx-h10'; did you mean 'dgx-h100'",
        ),
        (11, "cluster.datacenters.0.node_groups.1.node.gpus", "greater than or equal to 1"),
        (17, "workload.training.0.arrival.poisson.rate", "must be > 0"),
        (18, "workload.training.0.gpus", "weights has 1 entries but choice has 2"),
        (
            19,
            "workload.training.0.duration",
            "give exactly one of constant, exponential, "
            "lognormal, choice (got constant, lognormal)",
        ),
        (23, "workload.training.1.duration", "'1/h' is a rate, but a duration is expected"),
    ]
    assert len(out) == len(expected), out
    for line, (lineno, path, needle) in zip(out, expected, strict=True):
        assert line.startswith(f"{f}:{lineno}: {path}: "), line
        assert needle in line, line
        assert "\n" not in line


def test_impossible_and_unbounded_requests(tmp_path):
    data = tiny([(0.0, 8, 10.0)])
    data["workload"]["training"].append(
        {
            "name": "big",
            "count": 3,
            "arrival": {"interval": "1h"},
            "gpus": {"choice": [4, 9]},
            "duration": "1h",
        }
    )
    data["workload"]["training"].append(
        {"name": "forever", "arrival": {"poisson": {"rate": "1/h"}}, "duration": "1h"}
    )
    data["workload"]["training"].append(
        {"name": "few", "count": 5, "arrival": {"times": [1, 2]}, "duration": "1h"}
    )
    out = problems(write(tmp_path / "s.yaml", data))
    assert any(
        "workload.training.1.gpus: asks for 9 GPUs but the cluster has only 8" in p for p in out
    )
    assert any("workload.training.2.count: the stream is unbounded" in p for p in out)
    assert any(
        "workload.training.3.count: count 5 exceeds the 2 explicit arrival times" in p for p in out
    )


def test_unknown_chip_and_missing_keys(tmp_path):
    data = tiny()
    data["cluster"]["datacenters"][0]["node_groups"][0]["node"] = {"chip": "h101", "gpus": 8}
    del data["workload"]["training"][0]["duration"]
    out = problems(write(tmp_path / "s.yaml", data))
    assert any("node.chip: unknown chip 'h101'" in p for p in out)
    assert any(
        "workload.training.0: give exactly one of duration, model (got none)" in p for p in out
    )


def test_syntax_errors_name_file_and_line(tmp_path):
    f = write(tmp_path / "s.yaml", "name: x\ncluster: [1, 2\n")
    (line,) = problems(f)
    assert line.startswith(f"{f}:3: <top level>: YAML syntax error")
    j = write(tmp_path / "s.json", '{"name": }')
    (line,) = problems(j)
    assert line.startswith(f"{j}:1: <top level>: JSON syntax error")


def test_top_level_must_be_a_mapping(tmp_path):
    (line,) = problems(write(tmp_path / "s.yaml", "- 1\n- 2\n"))
    assert "top level must be a mapping" in line


def test_duplicate_names_rejected():
    data = tiny()
    data["workload"]["training"][1]["name"] = "j0"
    (line,) = problems(data)
    assert "duplicate stream name(s) ['j0']" in line


def test_model_jobs_validate(tmp_path):
    data = tiny()
    data["workload"]["training"][0].pop("duration")
    data["workload"]["training"][0]["model"] = {
        "name": "gpt-7b",
        "global_batch": 64,
        "tokens": "1e9",
        "tp": 3,
    }
    data["workload"]["training"][1]["model"] = {
        "name": "gpt-8b",
        "global_batch": 1,
        "iterations": 10,
    }
    out = problems(write(tmp_path / "s.yaml", data))
    assert any(
        "workload.training.0: GPU counts [8] are not multiples of tp x pp = 3" in p for p in out
    )
    assert any("training.1.model.name: unknown model 'gpt-8b'" in p for p in out)
    data["workload"]["training"][0]["model"]["tp"] = 2
    data["workload"]["training"][1]["model"]["name"] = "gpt-7b"
    (line,) = problems(write(tmp_path / "both.yaml", data))
    assert "workload.training.1: give exactly one of duration, model (got duration, model)" in line
    data["workload"]["training"][1].pop("model")
    s = load_scenario(write(tmp_path / "ok.yaml", data))
    assert s.workload.training[0].model.steps == pytest.approx(1e9 / 4096 / 64)


def test_unreadable_files(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_bytes(b"name: x\n\xff\xfe")
    (line,) = problems(f)
    assert line == f"{f}:2: <top level>: not UTF-8 text (byte 8 is 0xff)"
    (line,) = problems(tmp_path)
    assert line == f"{tmp_path}: <top level>: is a directory, not a file"
