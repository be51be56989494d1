"""Turning results into files and words.

Computation modules (``network``, ``access``, ``districting``, ``siting``, ...) return data and never
write files or choose a language; the modules here turn their results into tables, sheets, documents
and the map, in the language asked for.
"""
