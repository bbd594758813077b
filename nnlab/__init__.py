"""Instructor and TA tooling for the nn_training course, in the order of the work: `authoring`
(dataset, release, demo class), `grading` (the course's nbgrader steps, sandbox, batch), `results`
(outcome, feedback, export, report, review)."""

ASSIGNMENT = "nn_training"
