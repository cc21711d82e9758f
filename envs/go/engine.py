"""Go rules kernels: chain lists with pseudo-liberties, Zobrist hashing and positional superko (numba).

The state of B games lives in four arrays with the game on the leading axis, so a single game
(B = 1) and a batch of self-play games run the same compiled code:

    pts  int32[B, 7, P]    per-point rows: COLOR, HEAD, NEXT, SIZE, LIBS, EMPTY, EPOS (P = N*N)
    meta int32[B, 10]      per-game counters: TO_PLAY .. DONE
    hz   uint64[B, 1+P+T]  [0] position hash, [1+p] hash of the chain headed at p,
                           [1+P:] open-addressing set of every earlier position (superko)
    hist int8[B, H, P]     ring of the last H boards, for observation planes (H may be 0)

Colours are 0 empty, 1 black, 2 white. Points are p = row * N + col with row 0 the top line
(GTP row N). Action P is pass. Chains are circular linked lists (NEXT) with a head (HEAD);
LIBS holds the chain's pseudo-liberties (empty neighbour incidences), which is exact for
"captured" (0) and, after subtracting the incidences at one point, for "only liberty there".
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

COLOR, HEAD, NEXT, SIZE, LIBS, EMPTY, EPOS = range(7)
TO_PLAY, PASSES, MOVES, N_EMPTY, CAP_B, CAP_W, LAST, HPOS, MAX_MOVES, DONE = range(10)
N_META = 10
MIN_SIZE, MAX_SIZE = 5, 19
EMPTY_KEY = np.uint64(0x9E3779B97F4A7C15)  # hash of the empty board (0 marks a free table slot)
ZOBRIST = np.random.default_rng(20240607).integers(
    1, 2**63 - 1, size=(3, MAX_SIZE * MAX_SIZE), dtype=np.int64
).astype(np.uint64)


@functools.lru_cache(maxsize=None)
def geometry(n: int) -> np.ndarray:
    """Neighbour table (P, 8) for an n x n board: columns 0-3 orthogonal, 4-7 diagonal, each -1 padded."""
    geo = -np.ones((n * n, 8), np.int32)
    for r in range(n):
        for c in range(n):
            o = [(r + dr) * n + c + dc for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                 if 0 <= r + dr < n and 0 <= c + dc < n]
            d = [(r + dr) * n + c + dc for dr, dc in ((-1, -1), (-1, 1), (1, -1), (1, 1))
                 if 0 <= r + dr < n and 0 <= c + dc < n]
            geo[r * n + c, : len(o)] = o
            geo[r * n + c, 4: 4 + len(d)] = d
    geo.setflags(write=False)
    return geo


def table_size(max_moves: int) -> int:
    """Superko table slots: a power of two at least twice the number of positions a game can reach."""
    return 1 << int(2 * (max_moves + 2) - 1).bit_length()


def new_arrays(batch: int, n: int, max_moves: int, history: int) -> tuple[np.ndarray, ...]:
    """Allocate (pts, meta, hz, hist) for `batch` games on an n x n board, every game reset."""
    if not MIN_SIZE <= n <= MAX_SIZE:
        raise ValueError(f"board size {n} is outside {MIN_SIZE}..{MAX_SIZE}")
    p = n * n
    pts = np.zeros((batch, 7, p), np.int32)
    meta = np.zeros((batch, N_META), np.int32)
    hz = np.zeros((batch, 1 + p + table_size(max_moves)), np.uint64)
    hist = np.zeros((batch, history, p), np.int8)
    for g in range(batch):
        reset(pts, meta, hz, hist, g, max_moves)
    return pts, meta, hz, hist


@njit(cache=True)
def _probe(hz, g, p_count, h):
    """Slot index in game g's table holding h, or the free slot where h would go."""
    t = hz.shape[1] - 1 - p_count
    mask = np.uint64(t - 1)
    i = np.int64(h & mask)
    base = 1 + p_count
    while True:
        v = hz[g, base + i]
        if v == 0 or v == h:
            return base + i
        i = (i + 1) & (t - 1)


@njit(cache=True)
def reset(pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray, g: int, max_moves: int) -> None:
    """Empty board, Black to play, no history."""
    p_count = pts.shape[2]
    for p in range(p_count):
        pts[g, COLOR, p] = 0
        pts[g, HEAD, p] = p
        pts[g, NEXT, p] = p
        pts[g, SIZE, p] = 0
        pts[g, LIBS, p] = 0
        pts[g, EMPTY, p] = p
        pts[g, EPOS, p] = p
    meta[g, :] = 0
    meta[g, TO_PLAY] = 1
    meta[g, N_EMPTY] = p_count
    meta[g, LAST] = -1
    meta[g, MAX_MOVES] = max_moves
    hz[g, :] = 0
    hz[g, 0] = EMPTY_KEY
    hz[g, _probe(hz, g, p_count, EMPTY_KEY)] = EMPTY_KEY
    hist[g, :, :] = 0


@njit(cache=True)
def forget_history(pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray, g: int) -> None:
    """Make the current position the game's start (after setup stones): clear superko set and counters."""
    p_count = pts.shape[2]
    hz[g, 1 + p_count:] = 0
    hz[g, _probe(hz, g, p_count, hz[g, 0])] = hz[g, 0]
    meta[g, PASSES] = 0
    meta[g, MOVES] = 0
    meta[g, CAP_B] = 0
    meta[g, CAP_W] = 0
    meta[g, LAST] = -1
    meta[g, DONE] = 0
    for k in range(hist.shape[1]):
        hist[g, k, :] = 0
    meta[g, HPOS] = 0
    if hist.shape[1] > 0:
        for p in range(p_count):
            hist[g, 0, p] = pts[g, COLOR, p]


@njit(cache=True)
def _neighbour(pts, g, q):
    """What is at neighbour q: (colour, chain head); colour -1 off the board, head -1 if empty."""
    if q < 0:
        return -1, -1
    cq = pts[g, COLOR, q]
    return cq, (pts[g, HEAD, q] if cq != 0 else -1)


@njit(cache=True)
def _after_touching(pts, hz, g, c, cq, hd, count, h):
    """One neighbouring chain (colour cq, head hd, touching p `count` times): (p keeps a liberty
    through it, it is captured, hash with it removed)."""
    if cq == c:
        return pts[g, LIBS, hd] > count, False, h
    if pts[g, LIBS, hd] == count:
        return False, True, h ^ hz[g, 1 + hd]
    return False, False, h


@njit(cache=True)
def is_legal(pts: np.ndarray, hz: np.ndarray, g: int, nbr: np.ndarray, p: int, c: int) -> bool:
    """Whether colour c may play at point p: empty, not suicide, not repeating a position."""
    if pts[g, COLOR, p] != 0:
        return False
    # the four neighbours are read once; a chain touching p k times counts k incidences of LIBS
    c0, h0 = _neighbour(pts, g, nbr[p, 0])
    c1, h1 = _neighbour(pts, g, nbr[p, 1])
    c2, h2 = _neighbour(pts, g, nbr[p, 2])
    c3, h3 = _neighbour(pts, g, nbr[p, 3])
    free = c0 == 0 or c1 == 0 or c2 == 0 or c3 == 0
    captures = False
    h = hz[g, 0] ^ ZOBRIST[c, p]
    if c0 > 0:
        f, x, h = _after_touching(pts, hz, g, c, c0, h0, 1 + (h1 == h0) + (h2 == h0) + (h3 == h0), h)
        free, captures = free or f, captures or x
    if c1 > 0 and h1 != h0:
        f, x, h = _after_touching(pts, hz, g, c, c1, h1, 1 + (h2 == h1) + (h3 == h1), h)
        free, captures = free or f, captures or x
    if c2 > 0 and h2 != h0 and h2 != h1:
        f, x, h = _after_touching(pts, hz, g, c, c2, h2, 1 + (h3 == h2), h)
        free, captures = free or f, captures or x
    if c3 > 0 and h3 != h0 and h3 != h1 and h3 != h2:
        f, x, h = _after_touching(pts, hz, g, c, c3, h3, 1, h)
        free, captures = free or f, captures or x
    if not free and not captures:
        return False
    p_count = pts.shape[2]
    return hz[g, _probe(hz, g, p_count, h)] != h


@njit(cache=True)
def _take_empty(pts, meta, g, p):
    """Remove p from the list of empty points."""
    n = meta[g, N_EMPTY] - 1
    i = pts[g, EPOS, p]
    last = pts[g, EMPTY, n]
    pts[g, EMPTY, i] = last
    pts[g, EPOS, last] = i
    meta[g, N_EMPTY] = n


@njit(cache=True)
def _merge(pts, hz, g, a, b):
    """Join chains headed at a and b; the smaller one is relabelled."""
    if pts[g, SIZE, a] < pts[g, SIZE, b]:
        a, b = b, a
    s = b
    while True:
        pts[g, HEAD, s] = a
        s = pts[g, NEXT, s]
        if s == b:
            break
    na = pts[g, NEXT, a]
    pts[g, NEXT, a] = pts[g, NEXT, b]
    pts[g, NEXT, b] = na
    pts[g, SIZE, a] += pts[g, SIZE, b]
    pts[g, LIBS, a] += pts[g, LIBS, b]
    hz[g, 1 + a] ^= hz[g, 1 + b]


@njit(cache=True)
def _remove(pts, meta, hz, g, nbr, hd, capturer):
    """Lift the chain headed at hd off the board; returns the number of stones removed."""
    hz[g, 0] ^= hz[g, 1 + hd]
    s = hd
    n = 0
    while True:
        pts[g, COLOR, s] = 0
        e = meta[g, N_EMPTY]
        pts[g, EMPTY, e] = s
        pts[g, EPOS, s] = e
        meta[g, N_EMPTY] = e + 1
        n += 1
        for j in range(4):
            q = nbr[s, j]
            if q < 0:
                break
            if pts[g, COLOR, q] == capturer:
                pts[g, LIBS, pts[g, HEAD, q]] += 1
        s = pts[g, NEXT, s]
        if s == hd:
            break
    return n


@njit(cache=True)
def place(pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, g: int, nbr: np.ndarray, p: int, c: int) -> int:
    """Put a stone of colour c on empty point p, capturing what dies; returns stones captured."""
    _take_empty(pts, meta, g, p)
    pts[g, COLOR, p] = c
    pts[g, HEAD, p] = p
    pts[g, NEXT, p] = p
    pts[g, SIZE, p] = 1
    z = ZOBRIST[c, p]
    hz[g, 0] ^= z
    hz[g, 1 + p] = z
    libs = 0
    for j in range(4):
        q = nbr[p, j]
        if q < 0:
            break
        if pts[g, COLOR, q] == 0:
            libs += 1
        else:
            pts[g, LIBS, pts[g, HEAD, q]] -= 1
    pts[g, LIBS, p] = libs
    for j in range(4):
        q = nbr[p, j]
        if q < 0:
            break
        if pts[g, COLOR, q] == c and pts[g, HEAD, q] != pts[g, HEAD, p]:
            _merge(pts, hz, g, pts[g, HEAD, p], pts[g, HEAD, q])
    o = 3 - c
    captured = 0
    for j in range(4):
        q = nbr[p, j]
        if q < 0:
            break
        if pts[g, COLOR, q] == o and pts[g, LIBS, pts[g, HEAD, q]] == 0:
            captured += _remove(pts, meta, hz, g, nbr, pts[g, HEAD, q], c)
    meta[g, 3 + c] += captured
    return captured


@njit(cache=True)
def _record(pts, meta, hist, g):
    """Push the current board onto the history ring."""
    h = hist.shape[1]
    if h > 0:
        k = (meta[g, HPOS] + 1) % h
        meta[g, HPOS] = k
        for p in range(pts.shape[2]):
            hist[g, k, p] = pts[g, COLOR, p]


@njit(cache=True)
def play(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray,
        g: int, nbr: np.ndarray, a: int, c: int,
) -> int:
    """Colour c plays action a (a point, or P for pass) assumed legal; returns stones captured."""
    p_count = pts.shape[2]
    captured = 0
    if a == p_count:
        meta[g, PASSES] += 1
    else:
        captured = place(pts, meta, hz, g, nbr, a, c)
        h = hz[g, 0]
        hz[g, _probe(hz, g, p_count, h)] = h
        meta[g, PASSES] = 0
    meta[g, TO_PLAY] = 3 - c
    meta[g, MOVES] += 1
    meta[g, LAST] = a
    _record(pts, meta, hist, g)
    if meta[g, PASSES] >= 2 or meta[g, MOVES] >= meta[g, MAX_MOVES]:
        meta[g, DONE] = 1
    return captured


@njit(cache=True)
def legal_mask(pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, g: int, nbr: np.ndarray, out: np.ndarray) -> None:
    """Fill out[0:P+1] with the legal actions of the player to move (pass always legal)."""
    c = meta[g, TO_PLAY]
    out[:] = False
    for i in range(meta[g, N_EMPTY]):
        p = pts[g, EMPTY, i]
        out[p] = is_legal(pts, hz, g, nbr, p, c)
    out[pts.shape[2]] = True
