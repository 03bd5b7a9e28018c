"""Files in: decoding images (:mod:`.decode`), metadata from manifests and file names (:mod:`.metadata`),
large-image reading and scale metadata (:mod:`.slides`), and the file-system rules every writer follows
(:mod:`.files`: atomic writes, temporary names). The lowest layer of ``pipelines``: imports nothing above it.
"""
