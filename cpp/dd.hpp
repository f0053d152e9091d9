// Double-double arithmetic (a value as an unevaluated sum hi + lo, ~106 bits) for the few places
// that read small differences of large sums off the cross-products (checks.cpp). Products are
// exact by Dekker's splitting, so no FMA instruction is needed.
#pragma once

namespace mm::dd {

struct DD {
    double hi = 0.0;
    double lo = 0.0;
};

inline DD two_sum(double a, double b) {
    const double s = a + b;
    const double bp = s - a;
    return {s, (a - (s - bp)) + (b - bp)};
}

inline DD two_product(double a, double b) {
    constexpr double split = 134217729.0;  // 2^27 + 1
    const double p = a * b;
    const double ca = split * a, cb = split * b;
    const double ah = ca - (ca - a), al = a - ah;
    const double bh = cb - (cb - b), bl = b - bh;
    return {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

inline DD normalise(double hi, double lo) {
    const double s = hi + lo;
    return {s, lo - (s - hi)};
}

inline DD add(DD a, DD b) {
    const DD s = two_sum(a.hi, b.hi);
    return normalise(s.hi, s.lo + a.lo + b.lo);
}

inline DD neg(DD a) { return {-a.hi, -a.lo}; }

// a + b where either may be infinite (or NaN): then the plain sum of the high parts, low part 0.
inline DD add_or_inf(DD a, DD b) {
    const double s = a.hi + b.hi;
    if (s - s != 0.0) return {s, 0.0};  // not finite
    return add(a, b);
}

inline DD sub(DD a, DD b) { return add(a, neg(b)); }

inline DD mul(DD a, DD b) {
    const DD p = two_product(a.hi, b.hi);
    return normalise(p.hi, p.lo + a.hi * b.lo + a.lo * b.hi);
}

// a / d for a double d != 0.
inline DD div(DD a, double d) {
    const double q1 = a.hi / d;
    const DD p = two_product(q1, d);
    const double r = ((a.hi - p.hi) - p.lo + a.lo) / d;
    return normalise(q1, r);
}

inline double value(DD a) { return a.hi + a.lo; }

}  // namespace mm::dd
