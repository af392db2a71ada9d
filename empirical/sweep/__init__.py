"""Sweeps: the spec, the run with its self-extending grid, the optima, the store on disk and
the executors (here or on Dask)."""
