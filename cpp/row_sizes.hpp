// Row loops compiled for their sizes: the common shapes of a row (random-effects columns k,
// fixed-effects columns p) as compile-time constants, so that the loop's small arrays stay in
// registers. Every instance must do the same operations in the same order (the same bits).
#pragma once
#include <type_traits>

namespace mm {

// Calls f(K, P) for a compile-time K with P one of 0..4 fixed-effects columns (-1: any).
template <int K, class F>
void with_p(int p, F&& f) {
    using Kc = std::integral_constant<int, K>;
    switch (p) {
        case 0: return f(Kc{}, std::integral_constant<int, 0>{});
        case 1: return f(Kc{}, std::integral_constant<int, 1>{});
        case 2: return f(Kc{}, std::integral_constant<int, 2>{});
        case 3: return f(Kc{}, std::integral_constant<int, 3>{});
        case 4: return f(Kc{}, std::integral_constant<int, 4>{});
        default: return f(Kc{}, std::integral_constant<int, -1>{});
    }
}

// Calls f(K, P) with the sizes of a row loop known at compile time for the common shapes: K an
// std::integral_constant of 1 for one scalar random-effects term (0: any), P one of 0..4 fixed-effects
// columns (-1: any).
template <class F>
void with_row_sizes(bool scalar_term, int p, F&& f) {
    if (!scalar_term) return f(std::integral_constant<int, 0>{}, std::integral_constant<int, -1>{});
    with_p<1>(p, f);
}

// The same for one term of k = 1..3 columns (K = k; 0 and P = -1 for other k).
template <class F>
void with_term_sizes(int k, int p, F&& f) {
    switch (k) {
        case 1: return with_p<1>(p, f);
        case 2: return with_p<2>(p, f);
        case 3: return with_p<3>(p, f);
        default: return f(std::integral_constant<int, 0>{}, std::integral_constant<int, -1>{});
    }
}

}  // namespace mm
