"""Deterministic test tensors, bit-identical to test/helpers/det.ts: value i of a tensor with seed s is
((lowbias32(i + s * 0x9E3779B9 mod 2^32) >> 8) / 2^24 * 2 - 1) * scale, as float32."""
import numpy as np


def lowbias32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def det(shape, seed: int, scale: float = 1.0) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    with np.errstate(over="ignore"):
        idx = (np.arange(n, dtype=np.uint64) + np.uint64((seed * 0x9E3779B9) % 2**32)) % np.uint64(2**32)
        h = lowbias32(idx.astype(np.uint32))
    u = (h >> np.uint32(8)).astype(np.float64) / 16777216.0
    return ((u * 2 - 1) * scale).astype(np.float32).reshape(shape)


def sample_indices(n: int, k: int, seed: int) -> np.ndarray:
    """k distinct-ish flat indices in [0, n), deterministic (same as det.ts sampleIndices)."""
    with np.errstate(over="ignore"):
        idx = (np.arange(k, dtype=np.uint64) + np.uint64((seed * 0x9E3779B9) % 2**32)) % np.uint64(2**32)
        h = lowbias32(idx.astype(np.uint32)).astype(np.uint64)
    return (h % np.uint64(n)).astype(np.int64)
