#!/usr/bin/env python3
"""An auditor's own check of the stream-head map, written from docs/implementation/stream-heads.md
alone (no code of the service): the standard library only.

  stream_heads.py log EVENTS.jsonl NOTE...   each note's stream-heads line equals the map root
                                             recomputed from the events (one JSON event a line)
  stream_heads.py bundle FILE.json           a bundle's or case file's head proofs lead to its
                                             checkpoint's line, and each stream it holds is whole
                                             to its head

Prints one line per check; exits 1 on the first failure.
"""
import base64
import hashlib
import json
import sys

DEPTH = 16


def sha(b):
    return hashlib.sha256(b).digest()


def leaf(stream, stream_seq, seq, hash_hex):
    return sha(b"\x00" + stream.encode() + f"\n{stream_seq}\n{seq}\n{hash_hex}".encode())


def bucket_of(stream):
    return int.from_bytes(sha(stream.encode())[:2], "big")


def bucket_hash(leaves):
    return sha(b"\x02" + b"".join(sorted(leaves)))


def map_root(heads):
    """heads: stream -> (stream_seq, seq, hash hex)."""
    buckets = {}
    for s, (q, n, h) in heads.items():
        buckets.setdefault(bucket_of(s), []).append(leaf(s, q, n, h))
    level = [bucket_hash(buckets.get(i, [])) for i in range(1 << DEPTH)]
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def note_heads(note):
    text = note.split("\n\n", 1)[0] + "\n"
    lines = text.split("\n")
    size = int(lines[1])
    found = [l for l in lines[3:] if l.startswith("stream-heads ")]
    if len(found) != 1:
        return size, None
    return size, base64.b64decode(found[0].split(" ", 1)[1], validate=True)


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def check_log(events_path, notes):
    events = [json.loads(l) for l in open(events_path) if l.strip()]
    wanted = sorted((note_heads(open(p).read()), p) for p in notes)
    heads = {}
    i = 0
    for (size, root), path in wanted:
        while i < size:
            e = events[i]
            if e["seq"] != i:
                fail(f"event {i} says seq {e['seq']}")
            heads[e["stream"]] = (e["stream_seq"], e["seq"], e["hash"])
            i += 1
        if root is None:
            fail(f"{path}: no stream-heads line")
        got = map_root(heads)
        if got != root:
            fail(f"{path}: size {size}: the note says {root.hex()}, the events give {got.hex()}")
        print(f"ok checkpoint {size}: map root {got.hex()} over {len(heads)} streams")


def verify_head(p, root):
    if len(p["path"]) != DEPTH:
        return "path length"
    leaves = [bytes.fromhex(o) for o in p["others"]]
    own = leaf(p["stream"], p["stream_seq"], p["seq"], p["hash"])
    if len(set(leaves + [own])) != len(leaves) + 1:
        return "a leaf twice"
    node = bucket_hash(leaves + [own])
    index = bucket_of(p["stream"])
    for sib in p["path"]:
        s = bytes.fromhex(sib)
        node = sha(b"\x01" + node + s) if index % 2 == 0 else sha(b"\x01" + s + node)
        index //= 2
    return None if node == root else "does not lead to the root"


def check_file(events, heads, root, partial):
    streams = {}
    for e in events:
        if not partial(e["stream"]):
            streams.setdefault(e["stream"], []).append(e)
    for p in heads:
        if p["stream"] not in streams:
            fail(f"a head proof for {p['stream']}, of which the file holds no event")
    for s, evs in sorted(streams.items()):
        evs.sort(key=lambda e: e["seq"])
        mine = [p for p in heads if p["stream"] == s]
        if len(mine) != 1:
            fail(f"stream {s}: {len(mine)} head proofs")
        p = mine[0]
        why = verify_head(p, root)
        if why:
            fail(f"stream {s}: head proof: {why}")
        first = evs[0]["stream_seq"]
        if first != 0 and not s.startswith("person:"):
            fail(f"stream {s} does not start at stream_seq 0")
        for k, e in enumerate(evs):
            if e["stream_seq"] != first + k:
                fail(f"stream {s}: gap at stream_seq {first + k}")
        last = evs[-1]
        if (p["stream_seq"], p["seq"], p["hash"]) != (last["stream_seq"], last["seq"], last["hash"]):
            fail(f"stream {s}: the file stops at stream_seq {last['stream_seq']}, the head is stream_seq {p['stream_seq']}")
        print(f"ok stream {s}: whole to stream_seq {p['stream_seq']} (seq {p['seq']})")


def check_bundle(path):
    doc = json.load(open(path))
    bundle = doc.get("proof", doc)
    _, root = note_heads(bundle["checkpoint"])
    if root is None:
        fail("the checkpoint has no stream-heads line")
    check_file(bundle["events"], bundle.get("heads", []), root, lambda s: s.startswith("run:"))
    if "proof" in doc:
        check_file(doc["appeal_events"], doc.get("heads", []), root, lambda s: s.startswith("person:"))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "log":
        check_log(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == "bundle":
        check_bundle(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
