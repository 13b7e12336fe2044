"""One parser per file format. Each turns bytes into canonical polars frames (see `base`)."""
