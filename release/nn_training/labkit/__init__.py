"""Support code for the "basic training of neural networks" lab.

Everything here is provided to students: it holds no graded function.
- `data`: the dataset loader
- `network`: the 3-layer network of part 1 (forward, backward, training loop, prediction)
- `plots`: the figures of the lab
- `checks`: assertion helpers and gradient checking shared by the notebooks' tests
- `cases`: the classic small test cases of part 1
"""
