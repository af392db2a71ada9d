"""The shipped problems and data (least squares, the teacher MLP, digits) and the
:class:`~empirical.Workload` protocol a user's model implements. Imports only ``_core``."""
