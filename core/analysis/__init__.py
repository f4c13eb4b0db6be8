"""Why the network works: analyses of a trained recurrent layer (pure NumPy, float64)."""
