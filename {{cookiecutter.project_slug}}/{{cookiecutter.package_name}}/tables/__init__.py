"""Machinery for reading tables as people have them: formats sniffed, files and URLs read, types inferred."""
