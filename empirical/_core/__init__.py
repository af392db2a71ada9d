"""What every layer of :mod:`empirical` shares: argument checks, the learning-rate grid,
schedules, minibatch streams, initializations and thread control. Imports nothing above it."""
