"""The t interval of a mean (95 % unless told), shared by the result scripts (standard library
only)."""
import math
import statistics as st

# Two-sided 95 % t quantiles by degrees of freedom; past the table, the nearest one below (a
# slightly wider interval).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
        29: 2.045}


def t975(df):
    return T975[df] if df in T975 else T975[max(k for k in T975 if k <= df)]


def t_quantile(p, df):
    """The p quantile (p > 1/2) of Student's t with df degrees of freedom: the pdf integrated by
    Simpson's rule from 0, the bound found by bisection (agrees with the table to 1e-3)."""
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    pdf = lambda t: c * (1 + t * t / df) ** (-(df + 1) / 2)

    def cdf(x, n=2000):
        h = x / n
        s = pdf(0) + pdf(x) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, n))
        return 0.5 + s * h / 3

    lo, hi = 0.0, 100.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


def interval(xs, level=0.95):
    """(mean, lo, hi) of `xs` with its t interval at `level`; NaN bounds for a single value."""
    n, m = len(xs), st.mean(xs)
    if n < 2:
        return m, float("nan"), float("nan")
    t = t975(n - 1) if level == 0.95 else t_quantile(1 - (1 - level) / 2, n - 1)
    h = t * st.stdev(xs) / math.sqrt(n)
    return m, m - h, m + h
