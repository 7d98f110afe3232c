#!/usr/bin/env python3
"""Small .npy helper for the demo (standard library only: no numpy on these machines).

  npy.py random K N B OUTDIR [--seed S]  -> OUTDIR/W.npy (int64 [K,N], signed 16-bit; the
                                            first column of large weights), OUTDIR/X.npy
                                            (int64 [B,K], unsigned 16-bit;
                                            every other vector near full scale); OUTDIR is
                                            created when missing
  npy.py compare W.npy X.npy Y.npy        -> prints how Y differs from the exact product X @ W

Bad arguments and unreadable or unwritable files end in one line on stderr and exit status 1.
"""
import ast, os, random, struct, sys


def fail(msg):
    sys.exit(f"npy.py: {msg}")


def count(name, text):
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        fail(f"{name} must be a whole number >= 1, got {text!r}")
    return v


def write(path, rows, shape):
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % shape
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for r in rows:
            f.write(struct.pack("<%dq" % len(r), *r))


def read(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    hlen = struct.unpack("<H", data[8:10])[0]
    meta = ast.literal_eval(data[10:10 + hlen].decode())
    assert meta["descr"] == "<i8" and not meta["fortran_order"], meta
    rows, cols = meta["shape"]
    flat = struct.unpack("<%dq" % (rows * cols), data[10 + hlen:])
    return [list(flat[i * cols:(i + 1) * cols]) for i in range(rows)]


def main(argv):
    if argv[:1] == ["random"] and len(argv) in (5, 7) and argv[5:6] in ([], ["--seed"]):
        k, n, b, out = count("K", argv[1]), count("N", argv[2]), count("B", argv[3]), argv[4]
        try:
            seed = int(argv[6]) if len(argv) > 6 else 0
        except ValueError:
            fail(f"--seed must be an integer, got {argv[6]!r}")
        rng = random.Random(seed)
        w = [[rng.randint(-2**15, 2**15 - 1) for _ in range(n)] for _ in range(k)]
        for r in w:  # one column of weights near the top of the range: its high slices hold 3s
            r[0] = rng.randint(2**15 - 2**10, 2**15 - 1)
        # half the vectors random, half near full scale (most input bits set, as bright pixels)
        x = [[rng.randint(2**16 - 2**12 if i % 2 else 0, 2**16 - 1) for _ in range(k)]
             for i in range(b)]
        try:
            os.makedirs(out, exist_ok=True)
            write(os.path.join(out, "W.npy"), w, (k, n))
            write(os.path.join(out, "X.npy"), x, (b, k))
        except OSError as e:
            fail(f"cannot write into output folder {out}: {e.strerror}"
                 + (f" ({e.filename})" if e.filename and e.filename != out else ""))
    elif argv[:1] == ["compare"] and len(argv) == 4:
        w, x, y = read(argv[1]), read(argv[2]), read(argv[3])
        k, n = len(w), len(w[0])
        worst, wrong = 0, 0
        for xi, yi in zip(x, y):
            for j in range(n):
                exact = sum(xi[r] * w[r][j] for r in range(k))
                d = abs(yi[j] - exact)
                worst = max(worst, d)
                wrong += d != 0
        print(f"outputs differing from the exact product: {wrong} of {len(y) * n}; "
              f"largest difference {worst}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
