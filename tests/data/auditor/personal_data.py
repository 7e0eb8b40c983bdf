#!/usr/bin/env python3
"""An auditor's own check of format v2's seals, written from docs/implementation/personal-data.md
alone, with Python's standard library (no cryptography package): XChaCha20-Poly1305 from
RFC 8439 and draft-irtf-cfrg-xchacha-03, HMAC-SHA256 for blind ids.

Usage: personal_data.py CASE.json | personal_data.py bundle BUNDLE.json
CASE.json: {"index_key", "iin", "kek", "wrapped", "place": {format, seq, stream, type, subject,
member}, "seal": {...}} (keys and the wrapped key in base64). Prints
{"blind_id", "opened"} as JSON; exits 1, naming why, if the key does not unwrap or the seal
does not open.

With `bundle`: opens every sealed event of a proof bundle of format v2 with the bundle's own
`opening` (each event as stored; `opened` is never read), checks each `clear` member against
the opened data, and prints [{"seq", "stream", "data"}] of the opened events; exits 1 naming
the first that does not open."""

import base64, hashlib, hmac, json, struct, sys

MASK = 0xFFFFFFFF


def rotl(v, c):
    return ((v << c) & MASK) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK; s[b] = rotl(s[b] ^ s[c], 7)


def rounds(s):
    for _ in range(10):
        quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13); quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12); quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14)


CONST = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]


def chacha_block(key, counter, nonce12):
    init = CONST + list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce12))
    s = init[:]
    rounds(s)
    return struct.pack("<16I", *[(x + y) & MASK for x, y in zip(s, init)])


def hchacha(key, nonce16):
    s = CONST + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def chacha_xor(key, counter, nonce12, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        block = chacha_block(key, counter + i // 64, nonce12)
        out += bytes(a ^ b for a, b in zip(data[i:i + 64], block))
    return bytes(out)


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p, acc = (1 << 130) - 5, 0
    for i in range(0, len(msg), 16):
        n = int.from_bytes(msg[i:i + 16] + b"\x01", "little")
        acc = ((acc + n) * r) % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def pad16(b):
    return b"\x00" * (-len(b) % 16)


def xchacha_open(key, nonce, aad, sealed):
    if len(sealed) < 16:
        raise ValueError("too short")
    ct, tag = sealed[:-16], sealed[-16:]
    subkey = hchacha(key, nonce[:16])
    nonce12 = b"\x00" * 4 + nonce[16:]
    otk = chacha_block(subkey, 0, nonce12)[:32]
    mac = poly1305(otk, aad + pad16(aad) + ct + pad16(ct) + struct.pack("<QQ", len(aad), len(ct)))
    if not hmac.compare_digest(mac, tag):
        raise ValueError("the tag does not match")
    return chacha_xor(subkey, 1, nonce12, ct)


def b64(s):
    return base64.b64decode(s, validate=True)


CLEAR = {"run", "procedure", "step", "clause", "verdict", "outcome", "registry", "kind", "attempt", "list_page", "appeal",
         "simulation", "evidence", "proposal", "decision", "from_step", "rule_set_sha256", "part", "parts", "position"}


def canonical(v):
    # RFC 8785 for the values a sealed member is compared by (plain members: no floats).
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def open_bundle(path):
    bundle = json.load(open(path, encoding="utf-8"))
    opening = bundle.get("opening")
    if not opening:
        sys.exit("the bundle carries no opening")
    key, subject = b64(opening["data_key"]), opening["subject"]
    out = []
    for ev in bundle["events"]:
        data = ev["data"]
        if not (isinstance(data, dict) and set(data) == {"clear", "sealed"}):
            continue
        seal = data["sealed"]
        if seal.get("subject") != subject:
            sys.exit(f"seq {ev['seq']}: sealed under {seal.get('subject')}, the bundle opens only {subject}'s seals")
        aad = "housing-ledger/seal/v2\n" + "".join(f"{x}\n" for x in (ev["format"], ev["seq"], ev["stream"], ev["type"], subject, "data"))
        try:
            plain = json.loads(xchacha_open(key, b64(seal["nonce"]), aad.encode(), b64(seal["ct"])))
        except ValueError as e:
            sys.exit(f"seq {ev['seq']}: the seal does not open: {e}")
        for name, value in data["clear"].items():
            if name not in CLEAR or canonical(plain["data"].get(name)) != canonical(value):
                sys.exit(f"seq {ev['seq']}: clear member {name} differs from the sealed one")
        out.append({"seq": ev["seq"], "stream": plain["stream"], "data": plain["data"]})
    print(json.dumps(out, ensure_ascii=False))


def main():
    if sys.argv[1] == "bundle":
        return open_bundle(sys.argv[2])
    case = json.load(open(sys.argv[1], encoding="utf-8"))
    index_key, kek = b64(case["index_key"]), b64(case["kek"])
    blind = "p" + hmac.new(index_key, b"housing-ledger/blind-id/v2\n" + case["iin"].encode(), hashlib.sha256).hexdigest()[:32]
    place, seal = case["place"], case["seal"]
    if seal.get("seal") != "v2" or seal.get("subject") != place["subject"] or set(seal) != {"seal", "subject", "nonce", "ct"}:
        sys.exit("the seal is not a v2 seal of this place's subject")
    wrapped = b64(case["wrapped"])
    try:
        data_key = xchacha_open(kek, wrapped[:24], b"housing-ledger/data-key/v2\n" + place["subject"].encode(), wrapped[24:])
    except ValueError as e:
        sys.exit(f"the data key does not unwrap: {e}")
    aad = "housing-ledger/seal/v2\n" + "".join(f"{place[k]}\n" for k in ("format", "seq", "stream", "type", "subject", "member"))
    nonce = b64(seal["nonce"])
    if len(nonce) != 24:
        sys.exit("a nonce is 24 bytes")
    try:
        plain = xchacha_open(data_key, nonce, aad.encode(), b64(seal["ct"]))
    except ValueError as e:
        sys.exit(f"the seal does not open: {e}")
    print(json.dumps({"blind_id": blind, "opened": json.loads(plain)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
