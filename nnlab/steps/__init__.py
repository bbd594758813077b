"""The course's own steps in nbgrader's converters, which `nbgrader_config.py` names so that every
door runs them: intake repairs and the code scan (`autograde`), guarded execution with the judge
(`execution`), the record of a notebook's verdict and held points (`autograde`, `review`), the late
policy (`late`, nbgrader's late-penalty plugin) and feedback without hidden tests (`feedback`)."""
