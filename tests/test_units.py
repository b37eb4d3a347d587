import math

import pytest

from simulator.scenario.units import UnitError, format_duration, parse_quantity


@pytest.mark.parametrize(
    ("text", "dim", "expected"),
    [
        ("2h", "duration", 7200.0),
        ("90s", "duration", 90.0),
        ("15m", "duration", 900.0),
        ("14d", "duration", 14 * 86400.0),
        ("250ms", "duration", 0.25),
        ("1us", "duration", 1e-6),
        ("80GiB", "bytes", 80 * 2**30),
        ("512MB", "bytes", 512e6),
        ("400Gbps", "bandwidth", 50e9),
        ("900GB/s", "bandwidth", 900e9),
        ("700W", "power", 700.0),
        ("10kW", "power", 10e3),
        ("989TFLOPS", "flops", 989e12),
        ("4/h", "rate", 4 / 3600),
        ("10/min", "rate", 10 / 60),
        ("0.5/s", "rate", 0.5),
        ("1e3", "duration", 1000.0),
        (42, "duration", 42.0),
        (1.5, "rate", 1.5),
    ],
)
def test_parse(text, dim, expected):
    assert parse_quantity(text, dim) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "dim", "needle"),
    [
        ("4/h", "duration", "is a rate, but a duration is expected"),
        ("2h", "rate", "is a duration, but a rate is expected"),
        ("80GiB", "bandwidth", "is a bytes, but a bandwidth is expected"),
        ("3 parsecs", "duration", "unknown unit 'parsecs'"),
        ("fast", "duration", "cannot read 'fast'"),
        (True, "duration", "boolean"),
        ([1], "duration", "got list"),
        ("inf", "duration", "cannot read"),
    ],
)
def test_parse_errors_name_the_problem_and_give_examples(text, dim, needle):
    with pytest.raises(UnitError) as e:
        parse_quantity(text, dim)
    assert needle in str(e.value)
    assert "write it like" in str(e.value) or "finite" in str(e.value)


def test_non_finite_numbers_rejected():
    with pytest.raises(UnitError, match="finite"):
        parse_quantity(math.inf, "duration")


def test_format_duration():
    assert format_duration(90061) == "1d 1h"
    assert format_duration(3725) == "1h 2m"
    assert format_duration(65) == "1m 5s"
    assert format_duration(0.5) == "0.5s"
    assert format_duration(math.nan) == "-"
