"""The verification protocol's maths on synthetic similarities with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.embedding import evaluate
from facerec.errors import FacerecError


def test_best_threshold_separates_perfectly_separable_scores():
    sims = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    same = np.array([True, True, True, False, False, False])
    threshold = evaluate.best_threshold(sims, same)
    assert 0.3 < threshold <= 0.7
    assert evaluate.accuracy_at(sims, same, threshold) == 1.0


def test_each_fold_uses_the_threshold_of_the_other_folds():
    # Fold 0's own best threshold would be 0.5; the other folds put it at 0.65, which
    # misclassifies fold 0's same pair at 0.6: fold 0 scores 3/4, folds 1 and 2 score 1.
    sims = np.array([0.6, 0.9, 0.4, 0.1] + [0.7, 0.9, 0.6, 0.1] * 2)
    same = np.array([True, True, False, False] * 3)
    folds = np.repeat([0, 1, 2], 4)
    result = evaluate.evaluate(sims, same, folds)
    assert result.folds == 3 and not result.own_threshold
    assert result.accuracy == pytest.approx((0.75 + 1 + 1) / 3)
    assert result.std == pytest.approx(np.std([0.75, 1, 1]))


def test_single_fold_chooses_its_own_threshold_and_says_so():
    sims = np.array([0.6, 0.9, 0.4, 0.1])
    same = np.array([True, True, False, False])
    result = evaluate.evaluate(sims, same, np.zeros(4, int))
    assert result.own_threshold and result.accuracy == 1.0


def test_tar_at_far_allows_floor_far_times_impostors_above_threshold():
    rng = np.random.default_rng(0)
    impostors = rng.uniform(0, 0.5, 2000)
    impostors[:3] = [0.95, 0.9, 0.85]  # the three best impostors
    genuine = np.linspace(0.8, 1.0, 100)  # 25 of them lie below 0.85
    sims = np.concatenate([genuine, impostors])
    same = np.concatenate([np.ones(100, bool), np.zeros(2000, bool)])
    # FAR 1e-3 of 2000 impostors: 2 may pass, so the threshold sits just above 0.85.
    assert evaluate.tar_at_far(sims, same, 1e-3) == pytest.approx(np.mean(genuine > 0.85))
    # FAR 1e-4: none may pass, so the threshold sits just above 0.95 and nothing is accepted.
    assert evaluate.tar_at_far(sims, same, 1e-4) == pytest.approx(np.mean(genuine > 0.95))


def test_read_pairs_of_lfw_fold1(data):
    pairs = evaluate.read_pairs(data / "lfw_fold1/pairs.txt", data / "lfw_fold1/lfw")
    assert len(pairs) == 600 and sum(p.same for p in pairs) == 300
    assert {p.fold for p in pairs} == {0}
    first = pairs[0]
    assert first.first.name == "Abel_Pacheco_0001.jpg" and first.second.name == "Abel_Pacheco_0004.jpg"
    assert all(p.first.is_file() and p.second.is_file() for p in pairs)


def test_read_pairs_splits_ten_folds_and_refuses_bad_files(tmp_path):
    lines = ["10\t2"]
    for fold in range(10):
        lines += [f"A{fold}\t1\t2", f"B{fold}\t1\t3", f"A{fold}\t1\tB{fold}\t2", f"C{fold}\t4\tD{fold}\t1"]
    good = tmp_path / "pairs.txt"
    good.write_text("\n".join(lines) + "\n")
    pairs = evaluate.read_pairs(good, tmp_path)
    assert [p.fold for p in pairs] == [f for f in range(10) for _ in range(4)]
    assert pairs[2] == evaluate.Pair(tmp_path / "A0/A0_0001.jpg", tmp_path / "B0/B0_0002.jpg", False, 0)
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:-1]))
    with pytest.raises(FacerecError, match="header promises 40 pairs, file has 39"):
        evaluate.read_pairs(short, tmp_path)
    with pytest.raises(FacerecError, match="cannot read pairs file"):
        evaluate.read_pairs(tmp_path / "absent.txt", tmp_path)


def test_json_keys_name_the_far_as_people_write_it():
    result = evaluate.evaluate(np.array([0.9, 0.1]), np.array([True, False]), np.zeros(2, int))
    assert set(result.to_dict()) == {"accuracy", "std", "threshold", "tar_at_far_1e-3"}
    assert evaluate.far_label(1e-4) == "1e-4" and evaluate.far_label(0.002) == "0.002"
