"""drugsim: a reproducible research compendium comparing image-similarity methods on drug-box photos.

Reproduces "Comparison of Image Similarity Algorithms Based on Traditional Methods and Deep Learning"
(Computer Systems & Applications, 2024) and goes past it. See README.md.
"""

__version__ = "0.1.0"

from drugsim.errors import DrugsimError, ImageReadError  # noqa: E402
from drugsim.methods import SimilarityMethod, available_methods, create_method  # noqa: E402

__all__ = [
    "__version__",
    "DrugsimError",
    "ImageReadError",
    "SimilarityMethod",
    "available_methods",
    "create_method",
]
