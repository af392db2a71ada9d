"""The main job and its outputs: running the studies, the page, one sweep's page, the README."""
