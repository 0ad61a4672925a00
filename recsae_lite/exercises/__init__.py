"""Checks for the exercises at the end of chapters 2-9 (no need to read), in the style of ARENA's
in-notebook tests: one module per chapter (ch02 ... ch09), the judging they share in _common.

A check runs the learner's function on small inputs it builds and compares the result with the
library's tested implementation; a wrong answer raises `ExerciseError` (an AssertionError) that
names the usual mistake the answer matches. `exercises.check_fvu(my_fvu)` prints "Exercise 3.1
passed: ..." when right. Each check is deterministic and takes well under a second on a CPU.
"""

from ._common import ExerciseError
from .ch02 import check_diversity, check_ndcg, check_popularity
from .ch03 import check_fvu, check_sparsity, check_topk_encode
from .ch04 import check_feature_effect, check_genre_score, check_item_features
from .ch05 import check_add_edit, check_genre_share, check_scale_edit
from .ch06 import check_overwrite, check_purity, check_rbo
from .ch07 import check_frequency_groups, check_matryoshka_loss, check_tree
from .ch08 import check_best_characterizes, check_mix, check_tfidf
from .ch09 import check_matching, check_noisy_labels, check_precision_recall

__all__ = [
    "ExerciseError", "check_popularity", "check_ndcg", "check_diversity", "check_fvu",
    "check_sparsity", "check_topk_encode", "check_item_features", "check_genre_score",
    "check_feature_effect", "check_add_edit", "check_scale_edit", "check_genre_share",
    "check_purity", "check_overwrite", "check_rbo", "check_frequency_groups", "check_tree",
    "check_matryoshka_loss", "check_mix", "check_tfidf", "check_best_characterizes",
    "check_precision_recall", "check_noisy_labels", "check_matching"
]  # fmt: skip
