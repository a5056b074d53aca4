#!/usr/bin/env python3
# keyscan PID KEYFILE...: how many times each key file's bytes appear in the
# readable memory of process PID (a key wiped after use appears 0 times).
# Regions larger than 1 GiB are left out: they are a sanitizer's shadow,
# mostly never touched.
import sys

CHUNK = 16 << 20
pid = sys.argv[1]
keys = [open(f, 'rb').read() for f in sys.argv[2:]]
overlap = max(len(k) for k in keys) - 1
counts = [0] * len(keys)
with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/mem', 'rb', 0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        start, end = (int(x, 16) for x in addr.split('-'))
        if 'r' not in perms or end - start > (1 << 30):
            continue
        tail = b''
        pos = start
        while pos < end:
            try:
                mem.seek(pos)
                data = tail + mem.read(min(CHUNK, end - pos))
            except (OSError, ValueError, OverflowError):
                break
            for i, k in enumerate(keys):
                counts[i] += data.count(k)
            # A key across two chunks is counted once: keep only what
            # cannot hold a whole key.
            tail = data[-overlap:] if overlap else b''
            pos += CHUNK
print(' '.join(str(c) for c in counts))
