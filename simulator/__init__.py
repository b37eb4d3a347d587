"""clustersim: discrete-event simulator of accelerator clusters running AI workloads.

Public API::

    import simulator
    scenario = simulator.load_scenario("scenarios/quickstart.yaml", ["horizon=2d"])
    results = simulator.run(scenario, seed=1)
    results.summary, results.jobs, results.series        # dict, DataFrame, DataFrame
    results.save("runs/quickstart"); simulator.Results.load("runs/quickstart")
"""

__version__ = "0.1.0"

from .results import Results  # noqa: E402
from .runner import run  # noqa: E402
from .spec import Scenario, ScenarioError, load_scenario  # noqa: E402

__all__ = ["Results", "Scenario", "ScenarioError", "__version__", "load_scenario", "run"]
