"""Load the fibre tracer's numba kernels once, in the process-pool's fork server.

Importing this module builds one tiny skeleton graph (:mod:`texture._skeleton_graph`), which imports
numba and loads its kernels from numba's on-disk cache (about 0.5 s; the first run ever compiles them,
a few seconds, and writes the cache). The fork server imports it before forking workers, so every
worker inherits the loaded code instead of loading it again for its first histology image.
"""

import numpy as np

from texture._skeleton_graph import skeleton_graph

skeleton_graph(np.eye(8, dtype=bool))
