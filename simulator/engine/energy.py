"""Chip power, energy and carbon, integrated over the run.

A chip draws ``idle + (peak - idle) x u`` watts, where ``u`` is 1 while it is allocated (to a
training job or a service replica, or opened for shares) and 0 otherwise; a node draws
nothing while offline and idle power while it boots (provisioning) or is down (it stays
powered and billed). ``idle`` and ``peak`` come
from the node group's ``power`` or the catalog (cited idle figure and TDP). Facility energy is
IT energy times the data centre's PUE; gCO2 integrates facility power against the data
centre's carbon intensity, a step function of time.

Levels change only at the instants of scheduling passes, so the integral is exact: after each
pass the level since the previous pass is booked over the time between them. The summary
block is built from :meth:`Energy.report` by :mod:`simulator.metrics.energy`.

Must not import: numba.
"""

from __future__ import annotations

from array import array

import numpy as np

from ..scenario import catalog
from ..scenario.limits import regular_file
from ..scenario.problems import Problem, ScenarioError
from ..scenario.spec import CarbonSpec, ClusterSpec
from .nodes import OFFLINE
from .parts import Engine, Part


def _read_intensity(path: str) -> np.ndarray:
    """The ``g_per_kwh`` column of a CSV: finite values >= 0, at least one."""
    import pyarrow as pa
    import pyarrow.csv as csv

    regular_file(path, path, limit=64 * 2**20)
    try:
        values = csv.read_csv(path).column("g_per_kwh").to_numpy(zero_copy_only=False)
        values = np.asarray(values, dtype=float)
    except (pa.ArrowInvalid, KeyError, ValueError, TypeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ScenarioError(
            [Problem(path, "g_per_kwh", f"needs a numeric g_per_kwh column: {reason}")]
        ) from None
    bad = ~np.isfinite(values) | (values < 0)
    if not len(values) or bad.any():
        where = f"row {int(np.argmax(bad)) + 1}" if bad.any() else "no rows"
        message = f"g_per_kwh must be finite numbers >= 0 ({where})"
        raise ScenarioError([Problem(path, "g_per_kwh", message)])
    return values


class Intensity:
    """Carbon intensity (gCO2/kWh) as a repeating step function and its running integral."""

    def __init__(self, spec: CarbonSpec):
        if spec.values is not None:
            values = np.asarray(spec.values, dtype=float)
        else:
            values = _read_intensity(spec.path)
        self.values, self.step = values, spec.step
        self._prefix = np.concatenate([[0.0], np.cumsum(values) * spec.step])

    def integral(self, t: float) -> float:
        """``∫_0^t intensity`` in gCO2/kWh x seconds."""
        n = len(self.values)
        cycles, rest = divmod(t, n * self.step)
        i = min(int(rest // self.step), n - 1)
        partial = self._prefix[i] + self.values[i] * (rest - i * self.step)
        return float(cycles * self._prefix[-1] + partial)


class Energy(Part):
    """Per node group: devices powered and busy, and the energy and carbon they add up to."""

    name = "energy"
    pass_driven = False  # books only changes of power (after_pass)

    def __init__(self, spec: ClusterSpec):
        groups = spec.node_groups
        self.idle_w = np.full(len(groups), np.nan)
        self.peak_w = np.full(len(groups), np.nan)
        for g, group in enumerate(groups):
            chip = catalog.chip(group.resolved_node().chip)
            idle = chip.idle_w if group.power.idle is None else group.power.idle
            peak = chip.tdp_w if group.power.peak is None else group.power.peak
            self.idle_w[g] = np.nan if idle is None else idle
            self.peak_w[g] = np.nan if peak is None else peak
        self.dc = np.array([d for d, dc in enumerate(spec.datacenters) for _ in dc.node_groups])
        self.dc_names = [dc.name for dc in spec.datacenters]
        self.pue = np.array([dc.pue for dc in spec.datacenters])
        self.intensity = [
            None if dc.carbon_intensity is None else Intensity(dc.carbon_intensity)
            for dc in spec.datacenters
        ]
        # groups without a power figure: the energy block is then null
        self.modelled = not (np.isnan(self.idle_w).any() or np.isnan(self.peak_w).any())
        n = len(spec.datacenters)
        self.it_j = [0.0] * n  # IT energy per data centre
        self.co2 = [0.0] * n  # facility W x s x gCO2/kWh per data centre
        self.peak_power_w = 0.0
        self._power = array("d")  # IT kW after every pass

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        topo, nodes = engine.cluster.topology, engine.nodes
        self.group, self.gpus = topo.node_group, topo.node_gpus
        self._since = 0.0
        self._dc_power = [0.0] * len(self.dc_names)  # W per data centre since the last pass
        self._carbon = [d for d, c in enumerate(self.intensity) if c is not None]
        self._carbon_since = {d: 0.0 for d in self._carbon}
        # plain Python per group: a pass costs O(groups), never O(nodes) (the state keeps the
        # devices in use per group, node events the devices powered)
        self._dc_of = self.dc.tolist()
        self._span_w = (self.peak_w - self.idle_w).tolist()
        powered = self.gpus * (nodes.status != OFFLINE)
        self._powered = np.bincount(self.group, weights=powered, minlength=len(self.idle_w))
        self._idle_w = (self._powered * self.idle_w).tolist()
        self._simple = len(self._dc_of) == 1 and not self._carbon
        self._busy = engine.state.group_busy  # the fast path's lookup

    def on_node_status(self, node: int, old: int, new: int) -> None:
        """Offline nodes draw nothing; booting, online and down ones idle power at least."""
        if (old == OFFLINE) != (new == OFFLINE):
            g = int(self.group[node])
            self._powered[g] += float(self.gpus[node]) * (1 if old == OFFLINE else -1)
            self._idle_w[g] = float(self._powered[g] * self.idle_w[g])

    def _book(self, now: float) -> None:
        """Add the energy (and carbon) of the level held since the last booking."""
        dt = now - self._since
        if dt <= 0:
            return
        for d, power in enumerate(self._dc_power):
            self.it_j[d] += power * dt
        for d in self._carbon:
            carbon = self.intensity[d].integral(now)
            self.co2[d] += self._dc_power[d] * self.pue[d] * (carbon - self._carbon_since[d])
            self._carbon_since[d] = carbon
        self._since = now

    def after_pass(self) -> None:
        """Take the level after this pass (kept as the IT power in kW), booking the one held
        before only if it changed: the energy integral has one term per change of power, so
        it does not depend on how many passes ran. O(groups + data centres); a single group
        without carbon costs a few float operations."""
        if self._simple:
            power = self._idle_w[0] + self._busy[0] * self._span_w[0]
            if power != self._dc_power[0]:
                now = self.engine.now
                self.it_j[0] += self._dc_power[0] * (now - self._since)
                self._since = now
                self._dc_power[0] = power
                if power > self.peak_power_w:
                    self.peak_power_w = power
            self._power.append(power / 1e3)
            return
        busy = self._busy
        power = [0.0] * len(self._dc_power)
        for g, dc in enumerate(self._dc_of):
            power[dc] += self._idle_w[g] + busy[g] * self._span_w[g]
        if power != self._dc_power:
            self._book(self.engine.now)
            self._dc_power = power
        total = sum(power)
        self.peak_power_w = max(self.peak_power_w, total)
        self._power.append(total / 1e3)

    def finish(self, end_time: float) -> None:
        self._book(end_time)

    def series(self) -> dict[str, np.ndarray]:
        return {"power_kw": np.frombuffer(self._power, dtype=np.float64)}

    def report(self) -> dict:
        """Raw energy: IT joules and facility W x s x gCO2/kWh per data centre, the PUEs,
        which data centres have a carbon intensity, the peak IT watts and the span booked."""
        return {
            "it_j": np.asarray(self.it_j),
            "co2": np.asarray(self.co2),
            "pue": self.pue,
            "carbon_known": [c is not None for c in self.intensity],
            "datacenters": self.dc_names,
            "peak_it_w": self.peak_power_w,
            "span_s": self._since,
        }
