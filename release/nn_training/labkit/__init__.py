"""Support code for the "basic training of neural networks" lab.

Everything here is provided to students: it holds no graded function.
- `data`: the dataset loader of part 1
- `network`: the 3-layer network of part 1 (forward, backward, training loop, prediction)
- `plots`: the figures of part 1
- `cases`: the classic small test cases of part 1, and random test networks
- `checks`: assertion helpers and numerical gradients shared by the tests of both parts
- `fcnet`: the layers, deep fully connected network, update rules and digits data of part 2
- `experiments`: the batch-normalization experiments of part 2 and their figures
"""
