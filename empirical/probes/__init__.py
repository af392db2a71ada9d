"""Measurements along or around a sweep's runs: the minibatch Hessian, the stability edge and
the gradient noise scale."""
