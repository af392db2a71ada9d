"""Fitting: the scaling rules, rule fits with bootstrap intervals, the critical batch size and
the scaling-law fit. Imports nothing above it."""
