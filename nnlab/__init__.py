"""Instructor and TA tooling for the nn_training course: release building, submissions from plain
function files, and the course's dataset generator."""

ASSIGNMENT = "nn_training"
