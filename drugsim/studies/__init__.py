"""Chapter backends: one module per chapter of the book, holding what its notebook calls.

Each study loads its inputs through the one pair source (:mod:`drugsim.data.protocol`), runs the library code
(:mod:`drugsim.classical`, :mod:`drugsim.deep`, :mod:`drugsim.evaluation`), tabulates the results and builds the
sentences its notebook glues. Data flows one way: data -> methods -> evaluation -> studies -> notebooks ->
runner -> book, so nothing under ``classical``, ``deep``, ``evaluation`` or ``data`` imports from here.
"""
