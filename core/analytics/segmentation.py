"""k-means segmentation (客户细分) with k chosen by silhouette, and a profile sentence per segment.

Pure functions over numpy arrays (scikit-learn's ``KMeans`` and ``silhouette_score``); nothing here
touches the database. Features (docs/analytics.md §9):

* behavioural: recency (days since the last purchase), frequency (transactions), monetary (revenue),
  tenure (days since the first purchase) — frequency and monetary through log1p (they are skewed), then
  all four standardised to mean 0 and standard deviation 1;
* descriptive: one-hot columns of categorical attributes (industry, size), each weighted by
  ``categorical_weight`` so that a category counts about as much as half a standard deviation.

k runs over ``k_min..k_max`` (chosen on a random sample of 2,000 customers when there are more) (at most n - 1, and at most the number of distinct points); the k with the
best silhouette wins (ties: the smaller k). Fewer customers than clusters, or customers that are all
alike, give a :class:`NoSegmentation` carrying the reason instead of a crash.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["BEHAVIOUR", "Segmentation", "NoSegmentation", "centroid", "segment_customers"]

#: behavioural feature → (word when high, word when low, zh high, zh low)
BEHAVIOUR: dict[str, tuple[str, str, str, str]] = {
    "recency": ("not bought for long", "bought recently", "久未购买", "近期购买"),
    "frequency": ("high frequency", "low frequency", "购买频繁", "购买稀少"),
    "monetary": ("high spend", "low spend", "消费高", "消费低"),
    "tenure": ("long-standing", "new", "老客户", "新客户"),
}
_LOGGED = ("frequency", "monetary")
#: a segment's mean must differ from everyone's by this many standard deviations to be mentioned
_NOTABLE = 0.5
_SELECTION_SAMPLE = 2000


@dataclass(frozen=True)
class NoSegmentation:
    """Segmentation was not possible; ``reason`` says why. Falsy."""

    reason: str

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True, eq=False)
class Segmentation:
    """``labels[i]`` is customer i's segment number (0 = the segment with the highest mean monetary)."""

    k: int
    labels: np.ndarray
    silhouette: float
    #: silhouette of every k tried
    scores: dict[int, float]
    sizes: list[int]
    profiles: list[str]
    profiles_zh_cn: list[str]
    #: per segment: the mean of each behavioural feature (original units) and the dominant categories
    centroids: list[dict[str, Any]] = field(default_factory=list)


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _one_hot(values: Sequence[Any]) -> tuple[np.ndarray, list[str]]:
    cats = sorted({str(v) if v not in (None, "") else "unknown" for v in values})
    index = {c: i for i, c in enumerate(cats)}
    out = np.zeros((len(values), len(cats)))
    for row, v in enumerate(values):
        out[row, index[str(v) if v not in (None, "") else "unknown"]] = 1.0
    return out, cats


def centroid(behaviour: Mapping[str, np.ndarray], categories: Mapping[str, Sequence[Any]] | None = None
             ) -> dict[str, Any]:
    """What a group of customers looks like: the mean of each behavioural feature (original units, 2
    decimals) and, per attribute, the dominant category with its share (None counts as "unknown"; a tie
    goes to the first in sorted order). ``{}`` for no customers. :func:`segment_customers` describes its
    segments with it; the analytics service describes the members of a segment a caller may see."""
    names = [n for n in BEHAVIOUR if n in behaviour]
    if not names or np.asarray(behaviour[names[0]]).shape[0] == 0:
        return {}
    out: dict[str, Any] = {name: round(float(np.asarray(behaviour[name], dtype=float).mean()), 2) for name in names}
    for attr, values in (categories or {}).items():
        hot, cats = _one_hot(list(values))
        share = hot.mean(axis=0)
        j = int(np.argmax(share))
        out[attr] = {"value": cats[j], "share": round(float(share[j]), 3)}
    return out


def segment_customers(
    behaviour: Mapping[str, np.ndarray],
    categories: Mapping[str, Sequence[Any]] | None = None,
    *,
    k_min: int = 2,
    k_max: int = 8,
    categorical_weight: float = 0.5,
    random_state: int = 0,
) -> Segmentation | NoSegmentation:
    """Cluster customers; ``behaviour`` maps the names of ``BEHAVIOUR`` to aligned arrays, ``categories``
    maps an attribute name ("industry", "size") to its values per customer (None = unknown)."""
    import sklearn.cluster  # noqa: F401  (loads its OpenMP runtime, so the thread limit below reaches it)
    if k_min < 2 or k_max < k_min:
        raise ValueError("k must range over whole numbers with 2 <= k_min <= k_max")
    names = [n for n in BEHAVIOUR if n in behaviour]
    raw = np.column_stack([np.asarray(behaviour[n], dtype=float) for n in names]) if names else np.zeros((0, 0))
    n = raw.shape[0]
    if n <= k_min:
        return NoSegmentation(f"{n} customer(s) with purchases: k-means with at least {k_min} segments needs "
                              f"at least {k_min + 1}")
    if not np.all(np.isfinite(raw)):
        raise ValueError("behavioural features must be finite")
    shaped = raw.copy()
    for j, name in enumerate(names):
        if name in _LOGGED:
            shaped[:, j] = np.log1p(np.clip(shaped[:, j], 0, None))
    parts = [_standardise(shaped)]
    cat_info: dict[str, tuple[np.ndarray, list[str]]] = {}
    for attr, values in (categories or {}).items():
        hot, cats = _one_hot(list(values))
        cat_info[attr] = (hot, cats)
        parts.append(hot * categorical_weight)
    x = np.hstack(parts)
    distinct = np.unique(np.round(x, 9), axis=0).shape[0]
    top = min(k_max, n - 1, distinct)
    if top < k_min:
        return NoSegmentation(f"the customers form only {distinct} distinct profile(s): nothing to tell "
                              f"{k_min} segments apart")

    # k is chosen on a random sample (all customers when there are few), then the chosen k is fitted on
    # everyone: the silhouette costs O(n^2), and k-means' result for a given k hardly depends on it
    rng = np.random.default_rng(random_state)
    # one thread: scikit-learn's OpenMP and BLAS threads busy-wait for each other, and on a small or shared
    # machine that made this step 6x slower (5 s instead of 0.9 s on the demo data, 37 s under load)
    with threadpool_limits(limits=1):
        return _segment(x, raw, names, parts, categories, cat_info, n, top, rng, k_min, random_state)


def _segment(x, raw, names, parts, categories, cat_info, n, top, rng, k_min, random_state):
    """The k-means part of :func:`segment_customers` (its checks and features done)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    pick = np.sort(rng.choice(n, _SELECTION_SAMPLE, replace=False)) if n > _SELECTION_SAMPLE else np.arange(n)
    xs = x[pick]
    best: tuple[float, int, np.ndarray] | None = None
    scores: dict[int, float] = {}
    for k in range(k_min, top + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(xs)
        if np.unique(labels).shape[0] < 2:
            continue
        score = float(silhouette_score(xs, labels))
        scores[k] = round(score, 4)
        if best is None or score > best[0] + 1e-12:
            best = (score, k, labels)
    if best is None:
        return NoSegmentation("k-means found no two distinct segments")
    score, k, labels = best
    if pick.shape[0] < n:
        labels = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(x)

    # number segments by mean monetary, highest first, so "Segment 1" is the most valuable
    mon = raw[:, names.index("monetary")] if "monetary" in names else np.zeros(n)
    present = np.unique(labels)
    means = {lab: mon[labels == lab].mean() for lab in present}
    order = sorted(present, key=lambda lab: -means[lab])
    renumber = {old: new for new, old in enumerate(order)}
    labels = np.array([renumber[v] for v in labels], dtype=np.int64)
    k = len(order)

    z = parts[0]
    sizes, profiles, profiles_zh, centroids = [], [], [], []
    for seg in range(k):
        member = labels == seg
        sizes.append(int(member.sum()))
        words, words_zh = [], []
        zmean = z[member].mean(axis=0)
        for j, name in enumerate(names):
            high, low, high_zh, low_zh = BEHAVIOUR[name]
            if zmean[j] >= _NOTABLE:
                words.append(high), words_zh.append(high_zh)
            elif zmean[j] <= -_NOTABLE:
                words.append(low), words_zh.append(low_zh)
        for attr, (hot, cats) in cat_info.items():
            share = hot[member].mean(axis=0)
            overall = hot.mean(axis=0)
            j = int(np.argmax(share))
            if cats[j] != "unknown" and share[j] >= 0.5 and share[j] > overall[j] + 0.1:
                words.append(f"mostly {attr} {cats[j]}" if attr != "industry" else f"mostly {cats[j]}")
                words_zh.append(f"多为{cats[j]}")
        profiles.append(", ".join(words) if words else "close to the average customer")
        profiles_zh.append("，".join(words_zh) if words_zh else "接近平均水平")
        centroids.append(centroid({name: raw[member, j] for j, name in enumerate(names)},
                                  {attr: [v for v, m in zip(values, member) if m]
                                   for attr, values in (categories or {}).items()}))
    return Segmentation(k, labels, round(score, 4), scores, sizes, profiles, profiles_zh, centroids)
