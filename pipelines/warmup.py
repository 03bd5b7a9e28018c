"""Compile skan's numba kernels once, in the process-pool's fork server.

Importing this module builds one tiny skeleton graph, which makes numba compile skan's kernels (about
10 s). The fork server imports it before forking workers, so every worker inherits the compiled code
instead of compiling it again for its first histology image.
"""

import numpy as np
from skan import Skeleton, summarize

summarize(Skeleton(np.eye(8, dtype=bool)), separator="_")
