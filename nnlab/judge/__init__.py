"""The judge: the process that runs the test cells out of the student's reach, and its channel
to the student's kernel."""
