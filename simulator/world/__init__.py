"""Domain objects built from a spec: topology, cluster, job table. No simpy, no numba."""
