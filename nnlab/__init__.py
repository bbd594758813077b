"""Instructor and TA tooling for the nn_training course, in layers that never import each other
both ways (tests/test_layers.py): `authoring` (dataset, release, demo class), `judge` (the
process that runs test cells), `grading` (the course's nbgrader steps, sandbox, held points, the
student's outcome, batch), `results` (views that read what grading decided: feedback, export,
report, similarity)."""

ASSIGNMENT = "nn_training"
