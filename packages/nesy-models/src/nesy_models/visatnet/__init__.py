"""Vi-SATNet: SATNet layers that re-generate masked CNN feature vectors.

A LeNet-5 (``LeNet5``) gives n = 25 unit feature vectors per image (eq. 1); one ``ViSATNet``
per class re-generates masked vectors (trained with ``cosine_loss``, eq. 5); ``vi_c_agreement``
classifies through the frozen head (Alg. 1); ``minimal_significant_set`` finds the feature
vectors a target vector's re-generation depends on (defs. 1-3, Alg. 2); ``rules`` discretises
a learned clause matrix into a weighted MaxSAT objective as a nesy-ir formula.
"""

from __future__ import annotations

from nesy_models.visatnet.agreement import regenerate_all, vi_c_agreement
from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.features import (
    apply_mask,
    feature_map,
    feature_vectors,
    random_mask,
    uniform_vector,
    unit,
)
from nesy_models.visatnet.layer import ViSATNet, cosine_loss
from nesy_models.visatnet.lenet import LeNet5

__all__ = [
    "LeNet5",
    "ViSATNet",
    "ViSATNetError",
    "apply_mask",
    "cosine_loss",
    "feature_map",
    "feature_vectors",
    "random_mask",
    "regenerate_all",
    "uniform_vector",
    "unit",
    "vi_c_agreement",
]
