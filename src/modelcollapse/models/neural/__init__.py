"""Neural model families (PyTorch, an optional extra: ``pip install modelcollapse[torch]``).

Each family fits one replicate at a time (``block = 1``), is *durable* (the engine writes its
checkpoint and each generation's data to the run folder, so a killed run resumes at the last finished
generation), and draws all its randomness from the engine's ``numpy.random.Generator``.
"""
