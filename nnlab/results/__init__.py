"""Results: each student's outcome, feedback, the CSV export, the class report and the
review of held points."""
