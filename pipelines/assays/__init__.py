"""Assays: one decoded image in, one :class:`pipelines.record.ImageResult` out — photos (:mod:`.photo`),
histology (:mod:`.histology`), large slides tile by tile (:mod:`.slide`) and the alignment of a follow-up
photo to its baseline (:mod:`.alignment`). They call ``texture`` and never read files themselves, except
:mod:`.slide`, which streams windows through :mod:`pipelines.io.slides`.
"""
