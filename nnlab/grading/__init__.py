"""Grading a class: one submission in a process of its own (`submission`), the local batch and its
ledger, a Dask cluster and what travels to its workers, the LMS's file names, and each student's
outcome, which every view reads."""
