"""Chip power, energy and carbon, integrated over the run.

A chip draws ``idle + (peak - idle) x u`` watts, where ``u`` is 1 while it is allocated (to a
training job or a service replica, or opened for shares) and 0 otherwise; a node draws
nothing while offline and idle power while it boots (provisioning). ``idle`` and ``peak`` come
from the node group's ``power`` or the catalog (cited idle figure and TDP). Facility energy is
IT energy times the data centre's PUE; gCO2 integrates facility power against the data
centre's carbon intensity, a step function of time.

Levels change only at the instants of scheduling passes, so the integral is exact: after each
pass the level since the previous pass is booked over the time between them.

Must not import: numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..spec import catalog
from ..spec.limits import regular_file
from ..spec.model import CarbonSpec, ClusterSpec
from ..spec.problems import Problem, ScenarioError
from .capacity import OFFLINE

if TYPE_CHECKING:
    from .simulation import Simulation

J_PER_KWH = 3.6e6


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


class Energy:
    """Per node group: devices powered and busy, and the energy and carbon they add up to."""

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
        self.it_j = np.zeros(len(groups))  # IT energy per group
        self.co2 = np.zeros(len(groups))  # facility W x s x gCO2/kWh per group
        self.peak_power_w = 0.0

    def attach(self, sim: Simulation) -> None:
        self.sim = sim
        topo = sim.cluster.topology
        self.group = topo.node_group
        self.installed = np.asarray(topo.node_gpus, dtype=float)
        self._since = 0.0
        self._power = np.zeros(len(self.idle_w))  # W per group since the last pass
        self._carbon_since = self._carbon_integrals(0.0)
        # which nodes draw power changes only in elastic groups: otherwise idle power is fixed
        capacity = sim.capacity
        self._fixed = capacity is None or not capacity.elastic
        self._idle_power = self._powered() * self.idle_w

    def _powered(self) -> np.ndarray:
        """Devices per group on nodes that are online or booting."""
        capacity, on = self.sim.capacity, self.installed
        if capacity is not None:
            on = on * (capacity.status != OFFLINE)
        return np.bincount(self.group, weights=on, minlength=len(self.idle_w))

    def _carbon_integrals(self, t: float) -> np.ndarray:
        return np.array([0.0 if c is None else c.integral(t) for c in self.intensity])

    def _book(self, now: float) -> None:
        if now > self._since:
            self.it_j += self._power * (now - self._since)
            carbon = self._carbon_integrals(now)
            self.co2 += self._power * self.pue[self.dc] * (carbon - self._carbon_since)[self.dc]
            self._carbon_since = carbon
            self._since = now

    def sample(self) -> float:
        """Book the level since the last pass and take the new one; the IT power (kW)."""
        sim = self.sim
        self._book(sim.env.now)
        state = sim.state
        busy = np.bincount(
            self.group, weights=state.capacity - state.free, minlength=len(self.idle_w)
        )
        idle = self._idle_power if self._fixed else self._powered() * self.idle_w
        self._power = idle + busy * (self.peak_w - self.idle_w)
        total = float(self._power.sum())
        self.peak_power_w = max(self.peak_power_w, total)
        return total / 1e3

    def finish(self, end_time: float) -> None:
        self._book(end_time)

    def settled(self) -> bool:
        return True

    def summary(self, used_gpu_s: float) -> dict | None:
        """The ``energy`` summary block (see :data:`~simulator.metrics.schema.ENERGY_KEYS`)."""
        if not self.modelled:
            return None
        n = len(self.dc_names)
        it_kwh = float(self.it_j.sum()) / J_PER_KWH
        facility_kwh = np.bincount(self.dc, weights=self.it_j, minlength=n) * self.pue / J_PER_KWH
        gco2_dc = np.bincount(self.dc, weights=self.co2, minlength=n) / J_PER_KWH  # 0 unknown
        known = [c is not None for c in self.intensity]
        facility = float(facility_kwh.sum())
        span = self._since
        return {
            "it_kwh": it_kwh,
            "facility_kwh": facility,
            "mean_it_power_kw": it_kwh * 3600 / span if span > 0 else None,
            "peak_it_power_kw": self.peak_power_w / 1e3,
            "kwh_per_used_gpu_hour": facility / (used_gpu_s / 3600) if used_gpu_s > 0 else None,
            "gco2": float(gco2_dc[known].sum()) if any(known) else None,
            "by_datacenter": {
                name: {
                    "facility_kwh": float(facility_kwh[d]),
                    "gco2": float(gco2_dc[d]) if known[d] else None,
                }
                for d, name in enumerate(self.dc_names)
            },
        }
