"""Chip power, energy and carbon, integrated over the run.

A chip draws ``idle + (peak - idle) x u`` watts, where ``u`` is 1 while it is allocated (to a
training job or a service replica, or opened for shares) and 0 otherwise; a node draws
nothing while offline and idle power while it boots (provisioning) or is down (it stays
powered and billed). ``idle`` and ``peak`` come
from the node group's ``power`` or the catalog (cited idle figure and TDP). Facility energy is
IT energy times the data centre's PUE; gCO2 integrates facility power against the data
centre's carbon intensity, a step function of time.

Levels change only at the instants of scheduling passes, so the integral is exact: the level
after each pass is held until the next one. With one node group and no carbon intensity (a
single power curve), the part has no per-pass hook: the power after every pass is the
engine's own ``busy_gpus`` level times the dynamic watts plus the idle watts of the devices
powered (which change only with node statuses), computed in one vector step at the end.
Otherwise ``after_pass`` takes the level per node group, O(groups + data centres), and books
the one held before when it changed. The summary block is built from :meth:`Energy.report`
by :mod:`simulator.metrics.energy`.

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


def vectorised(spec: ClusterSpec) -> bool:
    """One node group and no carbon intensity: a single power curve (module docstring)."""
    return len(spec.node_groups) == 1 and spec.datacenters[0].carbon_intensity is None


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
        if vectorised(spec):  # a single power curve: computed at the end (``finish``)
            self.after_pass = None  # no per-pass hook (see ``overriding``)

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        topo, nodes = engine.cluster.topology, engine.nodes
        self.group, self.gpus = topo.node_group, topo.node_gpus
        self._since = 0.0
        self._carbon = [d for d, c in enumerate(self.intensity) if c is not None]
        self._carbon_since = {d: 0.0 for d in self._carbon}
        # plain Python per group: a pass costs O(groups), never O(nodes) (the state keeps the
        # devices in use per group, node events the devices powered)
        self._dc_of = self.dc.tolist()
        self._span_w = (self.peak_w - self.idle_w).tolist()
        powered = self.gpus * (nodes.status != OFFLINE)
        self._powered = np.bincount(self.group, weights=powered, minlength=len(self.idle_w))
        self._idle_w = (self._powered * self.idle_w).tolist()
        self._dc_power = [0.0] * len(self.dc_names)  # W per data centre since the last pass
        for g, dc in enumerate(self._dc_of):  # from time 0: the powered devices idle
            self._dc_power[dc] += self._idle_w[g]
        self.peak_power_w = sum(self._dc_power)
        self._busy = engine.state.group_busy
        self._idle_steps = [(0, self._idle_w[0])]  # (first pass row, idle W) per change

    def on_node_status(self, node: int, old: int, new: int) -> None:
        """Offline nodes draw nothing; booting, online and down ones idle power at least."""
        if (old == OFFLINE) != (new == OFFLINE):
            g = int(self.group[node])
            self._powered[g] += float(self.gpus[node]) * (1 if old == OFFLINE else -1)
            self._idle_w[g] = float(self._powered[g] * self.idle_w[g])
            if self.after_pass is None:  # from the pass row being recorded on
                self._idle_steps.append((self.engine.passes, self._idle_w[0]))

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
        it does not depend on how many passes ran. O(groups + data centres)."""
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
        if self.after_pass is None:
            self._integrate(end_time)
        self._book(end_time)

    def _integrate(self, end_time: float) -> None:
        """The single power curve, from the engine's level rows: each row's power is held
        until the next row (the last one until ``end_time``), the idle level from time 0 until
        the first."""
        levels = self.engine.levels()
        t, busy = levels["t"], levels["busy_gpus"]
        rows, idle = zip(*self._idle_steps, strict=True)
        power = busy * self._span_w[0]  # in place from here on: a few arrays of the passes
        if len(idle) == 1:
            power += idle[0]
        else:
            power += np.repeat(idle, np.diff([*rows, len(t)]))
        first = t[0] if len(t) else end_time
        self.it_j[0] = self._dc_power[0] * first + float(power @ np.diff(t, append=end_time))
        self.peak_power_w = max(self.peak_power_w, float(power.max(initial=0.0)))
        power /= 1e3
        self._power = power
        self._since = end_time

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
