"""Evaluation: the comparison engine, thresholds, metrics with intervals, 1:N search, timing, figures.

Modules (import what you need; none imports torch):

* :mod:`~drugsim.evaluation.engine`: describe each distinct image once (processes or batches, optional
  on-disk :mod:`~drugsim.evaluation.cache`), score pair lists; the paper's per-pair way as a baseline.
* :mod:`~drugsim.evaluation.thresholds`: the paper's midpoint rule and max-accuracy, Youden, EER and
  target-FAR rules, direction-aware.
* :mod:`~drugsim.evaluation.metrics` and :mod:`~drugsim.evaluation.bootstrap`: accuracy, balanced
  accuracy, precision, recall, ROC-AUC, EER; class-level (cluster) bootstrap intervals, paired comparisons,
  seed summaries.
* :mod:`~drugsim.evaluation.evaluate`: ``evaluate_scores`` / ``evaluate_method``, the JSON of
  ``drugsim evaluate``.
* :mod:`~drugsim.evaluation.retrieval` and :mod:`~drugsim.evaluation.search`: precision@1, MAP@R and
  brute-force 1:N search (:mod:`~drugsim.evaluation.index` for FAISS indexes).
* :mod:`~drugsim.evaluation.plots`: threshold-rule, interval and ROC figures.
"""
