"""The paper's published numbers, as data, so the book can set ours beside them.

Source: "Comparison of Image Similarity Algorithms Based on Traditional Methods and Deep Learning",
Computer Systems & Applications 33(2), 2024 (see ../shared/paper/PAPER.md). These are the only
numbers in the project that do not come from a run; every one is tagged with its table.
"""

from __future__ import annotations

from typing import Dict

#: Table 3: the four histogram metrics on the Fig. 1 example pair.
TABLE3_FIG1_HISTOGRAM: Dict[str, float] = {
    "hist-correl": 0.0078,
    "hist-chisqr": 59.0565,
    "hist-intersect": 0.0769,
    "hist-bhattacharyya": 0.9993,
}
#: Section 2.2: cosine similarity of the Fig. 1 pair.
FIG1_COSINE = 0.80183
#: Table 4: equal bits (of 64) of the global hashes on the Fig. 1 pair.
TABLE4_FIG1_HASHES: Dict[str, int] = {"ahash": 32, "phash": 23, "dhash": 26}
#: Figs. 6-7: matches and keypoints on the Fig. 1 pair.
FIG6_SIFT = {"matches": 240, "keypoints_a": 391, "keypoints_b": 368}
FIG7_ORB = {"matches": 277, "keypoints_a": 410, "keypoints_b": 387}

#: Table 5: images per face over all drugs (min, max, mean).
TABLE5_FACES: Dict[str, Dict[str, int]] = {
    "front": {"min": 9, "max": 160, "mean": 59},
    "back": {"min": 12, "max": 110, "mean": 49},
    "side1": {"min": 10, "max": 200, "mean": 55},
    "side2": {"min": 10, "max": 110, "mean": 52},
    "side3": {"min": 10, "max": 265, "mean": 54},
    "side4": {"min": 7, "max": 269, "mean": 53},
}
DATASET = {
    "n_drugs": 153,
    "n_images": 45826,
    "n_train_drugs": 133,
    "n_test_drugs": 20,
    "n_train_images": 42437,
    "n_test_images": 3389,
    "images_per_drug_min": 59,
    "images_per_drug_max": 752,
    "images_per_drug_mean": 299,
    "n_train_pairs_algorithm2": 3_100_000,  # "about 3.1 million"
    "n_test_pairs_algorithm2": 120_000,  # "about 120k"
}

#: Table 6: the ResNet18 feature-face classifier.
TABLE6_CLASSIFIER = {"train_accuracy": 0.9939, "test_accuracy": 0.9551, "images_per_second": 77.10}

#: Table 7: 1,000 test pairs; mean score of positives, of negatives, and pairs per second.
TABLE7: Dict[str, Dict[str, float]] = {
    "hist-correl": {"positive_mean": 0.9689, "negative_mean": 0.9771, "pairs_per_second": 11.78},
    "hist-chisqr": {"positive_mean": 0.0521, "negative_mean": 0.0360, "pairs_per_second": 11.77},
    "hist-intersect": {"positive_mean": 197.2986, "negative_mean": 195.4865, "pairs_per_second": 12.42},
    "hist-bhattacharyya": {"positive_mean": 4.1986, "negative_mean": 3.2433, "pairs_per_second": 12.09},
    "cosine": {"positive_mean": 0.9337, "negative_mean": 0.9184, "pairs_per_second": 1.83},
    "ahash": {"positive_mean": 25.0540, "negative_mean": 28.6500, "pairs_per_second": 106.55},
    "phash": {"positive_mean": 12.5000, "negative_mean": 16.8120, "pairs_per_second": 107.60},
    "dhash": {"positive_mean": 29.2080, "negative_mean": 31.4540, "pairs_per_second": 108.03},
    "sift": {"positive_mean": 227.8600, "negative_mean": 92.8060, "pairs_per_second": 26.18},
    "orb": {"positive_mean": 285.7280, "negative_mean": 114.6220, "pairs_per_second": 30.87},
}
#: Section 2.5 / Table 8: thresholds at the midpoint of the two means ("about 160" and "about 200").
TABLE8_THRESHOLDS = {"sift": 160.0, "orb": 200.0}
#: Table 8: full test set at those thresholds.
TABLE8: Dict[str, Dict[str, float]] = {
    "sift": {"accuracy": 0.8238, "pairs_per_second": 22.69},
    "orb": {"accuracy": 0.9309, "pairs_per_second": 31.88},
}

#: Table 9: Siamese networks, keyed "<backbone>-<variant>".
TABLE9: Dict[str, Dict[str, float]] = {
    "vgg16-improved": {"train_accuracy": 0.9933, "test_accuracy": 0.9737, "pairs_per_second": 31.64},
    "vgg16-classic": {"train_accuracy": 0.9916, "test_accuracy": 0.9657, "pairs_per_second": 30.62},
    "resnet18-improved": {"train_accuracy": 0.9984, "test_accuracy": 0.9850, "pairs_per_second": 38.45},
    "resnet18-classic": {"train_accuracy": 0.9999, "test_accuracy": 0.9551, "pairs_per_second": 38.04},
}
#: Table 10: the feature-face classifier in front of the improved Siamese network.
TABLE10: Dict[str, Dict[str, float]] = {
    "resnet18-classifier+vgg16-improved": {"test_accuracy": 0.9777, "pairs_per_second": 22.72},
    "resnet18-classifier+resnet18-improved": {"test_accuracy": 0.9856, "pairs_per_second": 27.80},
}

#: Section 4.2: training settings (the `paper` profile must hold these unchanged).
TRAINING = {
    "image_size": 224,
    "siamese": {"epochs": 5, "batch_size": 64, "lr": 5e-4, "lr_step_epochs": 2, "lr_gamma": 0.5,
                "threshold": 0.8, "contrastive_margin": 2.0},
    "classifier": {"epochs": 30, "batch_size": 64, "lr": 1e-3, "lr_step_epochs": 7, "lr_gamma": 0.1},
    "augmentation": {"vflip_p": 0.5, "hflip_p": 0.5, "rotation": (0, 180), "brightness": (0.5, 1.5),
                     "contrast": (0.9, 1.1), "saturation": (0.9, 1.1), "hue": (-0.1, 0.1)},
}
HARDWARE = {
    "training": "NVIDIA V100 16 GB",
    "timing": "RTX 3050 Ti laptop GPU, Windows 10 (classical methods with OpenCV)",
}
