#!/usr/bin/env python3
"""Small .npy helper for the demo (standard library only: no numpy on these machines).

  npy.py random K N B OUTDIR [--seed S]  -> OUTDIR/W.npy (int64 [K,N], signed 16-bit; the
                                            first column of large weights), OUTDIR/X.npy
                                            (int64 [B,K], unsigned 16-bit;
                                            every other vector near full scale)
  npy.py compare W.npy X.npy Y.npy        -> prints how Y differs from the exact product X @ W
"""
import ast, random, struct, sys


def write(path, rows, shape):
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % shape
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for r in rows:
            f.write(struct.pack("<%dq" % len(r), *r))


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    hlen = struct.unpack("<H", data[8:10])[0]
    meta = ast.literal_eval(data[10:10 + hlen].decode())
    assert meta["descr"] == "<i8" and not meta["fortran_order"], meta
    rows, cols = meta["shape"]
    flat = struct.unpack("<%dq" % (rows * cols), data[10 + hlen:])
    return [list(flat[i * cols:(i + 1) * cols]) for i in range(rows)]


def main(argv):
    if argv[0] == "random":
        k, n, b, out = int(argv[1]), int(argv[2]), int(argv[3]), argv[4]
        rng = random.Random(int(argv[6]) if len(argv) > 6 else 0)
        w = [[rng.randint(-2**15, 2**15 - 1) for _ in range(n)] for _ in range(k)]
        for r in w:  # one column of weights near the top of the range: its high slices hold 3s
            r[0] = rng.randint(2**15 - 2**10, 2**15 - 1)
        # half the vectors random, half near full scale (most input bits set, as bright pixels)
        x = [[rng.randint(2**16 - 2**12 if i % 2 else 0, 2**16 - 1) for _ in range(k)]
             for i in range(b)]
        write(f"{out}/W.npy", w, (k, n))
        write(f"{out}/X.npy", x, (b, k))
    elif argv[0] == "compare":
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
