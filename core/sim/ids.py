"""Kraken-looking unique ids (e.g. OK4GJX-KSTLS-7DZZO5), deterministic per seed."""

from __future__ import annotations

__all__ = ["IdGen"]

_ID_SPACE = 36**16
_ID_MULT = 0x9E3779B97F4A7C15 % _ID_SPACE  # odd and not a multiple of 3: a bijection of the id space
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class IdGen:
    """Ids from one counter: the same seed and the same calls give the same ids, none repeated."""

    __slots__ = ("_n", "_offset")

    def __init__(self, seed: int) -> None:
        self._n = 0
        self._offset = (seed * 0x2545F4914F6CDD1D + 0x1234567) % _ID_SPACE

    def next(self, prefix: str) -> str:
        self._n += 1
        x = (self._n * _ID_MULT + self._offset) % _ID_SPACE
        chars = []
        for _ in range(16):
            x, r = divmod(x, 36)
            chars.append(_ALPHABET[r])
        s = "".join(chars)
        return f"{prefix}{s[:5]}-{s[5:10]}-{s[10:]}"
