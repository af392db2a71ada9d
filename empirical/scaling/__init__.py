"""The scaling-law study's runs on digits: every shape's learning rate tuned, kept on disk."""
