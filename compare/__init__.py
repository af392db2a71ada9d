"""Theory over experiment: scaling-rule fits, the ``lrbs`` command line, reports."""
