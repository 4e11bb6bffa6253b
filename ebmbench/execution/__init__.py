"""The execution layer: the grid (plan), where cells run (executors, worker) and what
one cell does (cell, artifacts). It imports the plugin API below it and never the
results or presentation layers above."""
