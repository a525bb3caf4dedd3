"""Classical image-similarity methods of the paper (sections 2.1-2.5) and pixel-level companions.

Modules: :mod:`~drugsim.classical.histogram` (grey/HSV histograms, OpenCV's four metrics),
:mod:`~drugsim.classical.pixels` (cosine, Euclidean, SSIM), :mod:`~drugsim.classical.hashing`
(aHash, pHash, dHash, wHash, colour hash), :mod:`~drugsim.classical.keypoints` (SIFT, ORB, RANSAC),
:mod:`~drugsim.classical.plots` (Figs. 2, 6-7 and score distributions). Build methods by name with
:func:`drugsim.methods.create_method`; importing this package does not import torch.
"""

from drugsim.classical.hashing import HashMethod
from drugsim.classical.histogram import HistogramMethod
from drugsim.classical.keypoints import KeypointMethod
from drugsim.classical.pixels import CosineMethod, EuclideanMethod, SSIMMethod

__all__ = [
    "CosineMethod",
    "EuclideanMethod",
    "HashMethod",
    "HistogramMethod",
    "KeypointMethod",
    "SSIMMethod",
]
