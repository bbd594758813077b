"""Course authoring: the dataset, the release and solutions, submissions made from
function files, the ways notebooks get broken, and the demo class."""
