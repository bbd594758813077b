"""Results: views that only read what grading decided: feedback, the CSV export, the class
report, and the similarity report."""
