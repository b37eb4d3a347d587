"""clustersim: discrete-event simulator of accelerator clusters running AI workloads.

Public API::

    import simulator
    scenario = simulator.load_scenario("scenarios/quickstart.yaml", ["horizon=2d"])
    results = simulator.run(scenario, seed=1)
    results.summary, results.jobs, results.series        # dict, DataFrame, DataFrame
    results.save("runs/quickstart"); simulator.Results.load("runs/quickstart")
    table = simulator.bench(scenario, placements=["first_fit", "consolidated"], seeds=5).table
"""

__version__ = "0.1.0"

from .bench import BenchResult, bench  # noqa: E402
from .results import Results  # noqa: E402
from .runner import run  # noqa: E402
from .scenario import Scenario, ScenarioError, load_scenario  # noqa: E402

__all__ = [
    "BenchResult",
    "Results",
    "Scenario",
    "ScenarioError",
    "__version__",
    "bench",
    "load_scenario",
    "run",
]
