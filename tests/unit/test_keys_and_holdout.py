"""Event keys and the holdout, checked against computations independent of the code.

The README says the key is SipHash-2-4 under two fixed keys and the holdout a salted
hash of customer_id that is the same on every run: both are checked here by other
means than the code's own (a reference SipHash-2-4 verified on the paper's published
test vectors, hashes computed with coreutils' ``sha256sum``, a second interpreter with
another ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from milestones.decide.policy import in_holdout
from milestones.detect.events import _KEY_SALTS, event_key, event_keys

MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(key: bytes, message: bytes) -> int:
    """SipHash-2-4 (Aumasson and Bernstein, 2012), written from the paper, as a 64-bit integer."""
    assert len(key) == 16
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(n: int) -> None:
        for _ in range(n):
            v[0] = (v[0] + v[1]) & MASK
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & MASK
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & MASK
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & MASK
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    tail = len(message) % 8
    for i in range(0, len(message) - tail, 8):
        m = int.from_bytes(message[i:i + 8], "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    last = ((len(message) & 0xFF) << 56) | int.from_bytes(message[len(message) - tail:], "little")
    v[3] ^= last
    rounds(2)
    v[0] ^= last
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


# The paper's test vectors: key 00 01 .. 0f, message 00 01 .. (n-1); Appendix A gives
# the 15-byte one, the reference code's vectors.h the others (read as little-endian).
PAPER_KEY = bytes(range(16))
PAPER_VECTORS = {
    0: 0x726FDB47DD0E0E31,
    1: 0x74F839C593DC67FD,
    8: 0x93F5F5799A932462,
    15: 0xA129CA6149BE45E5,
}


@pytest.mark.parametrize("length, expected", sorted(PAPER_VECTORS.items()))
def test_reference_siphash_matches_the_papers_vectors(length, expected):
    assert siphash24(PAPER_KEY, bytes(range(length))) == expected


def _pandas_mix(h: int) -> int:
    """pandas' hash_array passes each SipHash value through the splitmix64 finalizer."""
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    return h ^ (h >> 31)


def reference_key(customer_id: str, event_type: str, occurrence: str) -> str:
    message = "\x1f".join((customer_id, event_type, occurrence)).encode("utf-8")
    return "".join(f"{_pandas_mix(siphash24(k.encode(), message)):016x}" for k in _KEY_SALTS)


@pytest.mark.parametrize("event", [
    ("a", "birthday", "2026-11-21"),
    ("C000001", "marriage", "2026"),
    ("Åsa-Öhman 李", "customer_anniversary", "2028-02-29"),
    ("x" * 64, "retirement", "2031"),
    ("", "birthday", "2026-01-01"),
])
def test_event_keys_are_siphash_2_4_under_the_two_fixed_keys(event):
    expected = reference_key(*event)
    assert event_key(*event) == expected
    assert list(event_keys([event[0]], [event[1]], [event[2]])) == [expected]


def test_key_value_is_pinned():
    # Keys live in ledgers across releases: a pandas upgrade or an edit that changed them
    # would send every email again. The value was computed with the reference above.
    assert reference_key("a", "birthday", "2026-11-21") == "18aafddfb06abb4835169a53cd38c5e2"
    assert event_key("a", "birthday", "2026-11-21") == "18aafddfb06abb4835169a53cd38c5e2"
    assert _KEY_SALTS == ("milestones:key:1", "milestones:key:2")


# Members of the default 5% holdout (salt milestones-holdout-v1) among C000000..C000399:
# computed with `printf '%s' "milestones-holdout-v1"$'\x1f'"$id" | sha256sum`, first 16 hex
# digits below 0.05 * 2**64 (0x0ccccccccccccccc).
HOLDOUT_MEMBERS = {
    "C000017", "C000019", "C000039", "C000059", "C000087", "C000092", "C000098", "C000139",
    "C000177", "C000183", "C000187", "C000207", "C000216", "C000228", "C000258", "C000259",
    "C000263", "C000311", "C000338", "C000340", "C000350", "C000353", "C000359",
}
IDS = [f"C{i:06d}" for i in range(400)]


def test_holdout_membership_is_pinned_for_known_ids():
    assert {c for c in IDS if in_holdout(c, 0.05, "milestones-holdout-v1")} == HOLDOUT_MEMBERS


def test_holdout_share_boundaries():
    # C000019's draw is 0x051e3510... / 2**64 = 0.01999...: in at 0.02, out at 0.0199.
    assert in_holdout("C000019", 0.02, "milestones-holdout-v1")
    assert not in_holdout("C000019", 0.0199, "milestones-holdout-v1")
    assert not any(in_holdout(c, 0.0, "milestones-holdout-v1") for c in IDS)
    assert all(in_holdout(c, 1.0, "milestones-holdout-v1") for c in IDS)


def test_holdout_and_keys_are_the_same_in_another_process():
    # Python's own hash() of a str changes with PYTHONHASHSEED: a holdout or key built on it
    # would differ between the DAG's worker processes. Another interpreter, another seed.
    code = ("import json, sys; from milestones.decide.policy import in_holdout; from milestones.detect.events import event_keys;"
            "ids = json.loads(sys.stdin.read());"
            "print(json.dumps([[c for c in ids if in_holdout(c, 0.05, 'milestones-holdout-v1')],"
            " list(event_keys(ids, ['birthday'] * len(ids), ['2026-11-22'] * len(ids)))]))")
    here = [[c for c in IDS if in_holdout(c, 0.05, "milestones-holdout-v1")],
            list(event_keys(IDS, ["birthday"] * len(IDS), ["2026-11-22"] * len(IDS)))]
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(IDS), env=env,
                             capture_output=True, text=True, check=True)
        assert json.loads(out.stdout) == here
