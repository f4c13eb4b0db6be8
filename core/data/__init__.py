"""Corpora and generators. Loaders raise :class:`DataError` with one clear line."""


class DataError(ValueError):
    """A data file or folder is missing, empty, binary, badly encoded or malformed."""
