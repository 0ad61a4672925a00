"""recsae_lite: the library behind the book "Sparse autoencoders for recommender systems".

The chapters in book/ import it and teach with it; each module's docstring names the chapter that
introduces it.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
