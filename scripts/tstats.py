"""The 95 % t interval of a mean, shared by the result scripts (standard library only)."""
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


def interval(xs):
    """(mean, lo, hi) of `xs` with its 95 % t interval; NaN bounds for a single value."""
    n, m = len(xs), st.mean(xs)
    if n < 2:
        return m, float("nan"), float("nan")
    h = t975(n - 1) * st.stdev(xs) / math.sqrt(n)
    return m, m - h, m + h
