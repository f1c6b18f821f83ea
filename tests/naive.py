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
    """The original's ``measure_dimension``: box counting with whole boxes, minus the slope."""
    size = mask.shape[0]
    boxes = []
    ruler = 1
    while ruler < size:
        count = 0
        for x in range(size // ruler):
            for y in range(size // ruler):
                count += mask[x * ruler:(x + 1) * ruler, y * ruler:(y + 1) * ruler].any()
        boxes.append((ruler, count))
        ruler *= 2
    rulers, counts = zip(*boxes)
    return -np.polyfit(np.log(rulers), np.log(counts), 1)[0]


def estimate_density(points):
    """The original's ``estimate_density``: polyfit of pooled (distance, fraction) points."""
    distance, fraction = zip(*points)
    return np.polyfit(distance, fraction, 1)
