"""Slow, obviously-right references the compiled code is checked against."""

import random
from collections import defaultdict
from math import sqrt

import numpy as np


def original_invasion(width, height, depth, seed):
    """A line-by-line transcription of the original ``GridList`` + ``GridLazy`` fill.

    Returns (filled mask [x, y], fill order as [(x, y)], values in fill order).
    """
    rng = random.Random(seed)
    grid = [[rng.randint(1, depth) for y in range(height)] for x in range(width)]
    candidates = {}
    order, values = [], []

    def add_one_candidate(x, y):
        if x < 0 or x >= width or y < 0 or y >= height or grid[x][y] == 0:
            return
        candidates.setdefault(grid[x][y], set()).add((x, y))

    def add_candidates(x, y):
        for ix in (x - 1, x + 1):
            add_one_candidate(ix, y)
        for iy in (y - 1, y + 1):
            add_one_candidate(x, iy)

    def fill(x, y):
        order.append((x, y))
        values.append(grid[x][y])
        grid[x][y] = 0

    x, y = width // 2, height // 2
    fill(x, y)
    add_candidates(x, y)
    while True:
        min_key = min(candidates.keys())
        available = list(sorted(candidates[min_key]))
        i = rng.randrange(len(available))
        choice = available[i]
        del available[i]
        if not available:
            del candidates[min_key]
        else:
            candidates[min_key] = set(available)
        add_candidates(*choice)
        fill(*choice)
        x, y = choice
        if x == 0 or x == width - 1 or y == 0 or y == height - 1:
            break
    mask = np.array([[v == 0 for v in col] for col in grid], dtype=bool)
    return mask, order, values


def collect_density(mask):
    """The original's ``collect_density`` (generalised to rectangles): [(distance, fraction)]."""
    width, height = mask.shape
    cx, cy = width // 2, height // 2
    count_cells = defaultdict(int)
    count_filled = defaultdict(int)
    for x in range(width):
        for y in range(height):
            dist_2 = (x - cx) ** 2 + (y - cy) ** 2
            count_cells[dist_2] += 1
            if mask[x, y]:
                count_filled[dist_2] += 1
    return [(sqrt(d2), count_filled[d2] / count_cells[d2]) for d2 in sorted(count_cells)]


def measure_dimension(mask):
    """The original's ``measure_dimension`` (generalised to rectangles): box counting
    with whole boxes, rulers below the shorter side, minus the slope."""
    width, height = mask.shape
    boxes = []
    ruler = 1
    while ruler < min(width, height):
        count = 0
        for x in range(width // ruler):
            for y in range(height // ruler):
                count += mask[x * ruler:(x + 1) * ruler, y * ruler:(y + 1) * ruler].any()
        boxes.append((ruler, count))
        ruler *= 2
    rulers, counts = zip(*boxes)
    return -np.polyfit(np.log(rulers), np.log(counts), 1)[0]


def estimate_density(points):
    """The original's ``estimate_density``: polyfit of pooled (distance, fraction) points."""
    distance, fraction = zip(*points)
    return np.polyfit(distance, fraction, 1)


M32, M64 = 2**32 - 1, 2**64 - 1


class Xoshiro256pp:
    """xoshiro256++ on Python integers (Blackman & Vigna's reference, transcribed)."""

    def __init__(self, state):
        self.s = [int(v) for v in state]

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self._rotl((s[0] + s[3]) & M64, 23) + s[0]) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def bounded(self, n):
        """Lemire's unbiased integer in [0, n) from the top 32 bits of each draw."""
        m = (self.next() >> 32) * n
        if (m & M32) < n:
            threshold = (2**32 - n) % n
            while (m & M32) < threshold:
                m = (self.next() >> 32) * n
        return m >> 32


def fast_invasion(width, height, depth, seed):
    """The ``fast`` engine's process, written plainly: same draws, same swap-remove buckets.

    Returns (filled mask, fill order [(x, y)], values in fill order, {cell: value} of every
    cell that was ever drawn).
    """
    rng = Xoshiro256pp(np.random.SeedSequence(seed).generate_state(4, np.uint64))
    value = {}
    buckets = {v: [] for v in range(1, depth + 1)}
    mask = np.zeros((width, height), bool)
    order, values = [], []
    x, y = width // 2, height // 2
    value[x, y] = 1 + rng.bounded(depth)
    while True:
        mask[x, y] = True
        order.append((x, y))
        values.append(value[x, y])
        if x in (0, width - 1) or y in (0, height - 1):
            return mask, order, values, value
        for nb in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            if nb not in value:
                value[nb] = 1 + rng.bounded(depth)
                buckets[value[nb]].append(nb)
        lowest = min(v for v, cells in buckets.items() if cells)
        bucket = buckets[lowest]
        i = rng.bounded(len(bucket))
        x, y = bucket[i]
        bucket[i] = bucket[-1]
        bucket.pop()


def heap_invasion(width, height, depth, seed):
    """A *different* model (fixed random tie order: heap keyed by value, then a per-cell
    random number); used to show the statistical test can tell models apart."""
    import heapq

    rng = np.random.default_rng(seed)
    values = rng.integers(1, depth + 1, size=(width, height))
    ties = rng.random((width, height))
    seen = np.zeros((width, height), bool)
    x, y = width // 2, height // 2
    seen[x, y] = True
    heap, n = [], 1
    while True:
        for nx, ny in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            if not seen[nx, ny]:
                seen[nx, ny] = True
                heapq.heappush(heap, (values[nx, ny], ties[nx, ny], nx, ny))
        _, _, x, y = heapq.heappop(heap)
        n += 1
        if x in (0, width - 1) or y in (0, height - 1):
            return n


def original_flow_table(size, depth, runs, seed):
    """The original Metaflow sweep (make_sweeps, run_job, join, end), without Metaflow:
    returns {(size, depth): (count, dimension, density_x, density_k)}."""
    import sys as _sys

    random.seed(seed)
    jobs = [(s, d, random.randrange(_sys.maxsize)) for s in size for d in depth for _ in range(runs)]
    counts, dimensions, densities = defaultdict(int), defaultdict(float), defaultdict(list)
    for s, d, job_seed in jobs:
        mask, _, _ = original_invasion(s, s, d, job_seed)
        counts[s, d] += 1
        dimensions[s, d] += measure_dimension(mask)
        densities[s, d].extend(collect_density(mask))
    return {
        key: (counts[key], dimensions[key] / counts[key], *estimate_density(densities[key]))
        for key in sorted(counts)
    }


def continuous_invasion(width, height, seed):
    """The continuous model written plainly: the same draws as the kernel, and the
    frontier cell of least value filled each step (a linear scan, no heap).

    Returns (fill order [(x, y)], fill values, every drawn value in draw order).
    """
    rng = Xoshiro256pp(np.random.SeedSequence(seed).generate_state(4, np.uint64))
    draw = lambda: (rng.next() >> 11) * 2.0**-53  # noqa: E731
    value, frontier, filled = {}, set(), set()
    x, y = width // 2, height // 2
    value[x, y] = draw()
    drawn, order, values = [value[x, y]], [], []
    while True:
        filled.add((x, y))
        order.append((x, y))
        values.append(value[x, y])
        if x in (0, width - 1) or y in (0, height - 1):
            return order, values, drawn
        for nb in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            if nb not in value:
                value[nb] = draw()
                drawn.append(value[nb])
                frontier.add(nb)
        x, y = min(frontier, key=value.__getitem__)
        frontier.discard((x, y))
