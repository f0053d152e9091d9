// The Cholesky factor of a dense diagonal block in a fill-reducing order, supernode by supernode
// (supernodal_potrf.cpp; the plan from level_order.hpp).
#pragma once

#include "level_order.hpp"

namespace mm {

// Lower Cholesky factor in place of the n x n block `a` (lda) whose factor is zero outside the
// plan's rows (its entries there are zero and stay so), right-looking by supernodes: LAPACK on each
// supernode's diagonal block (the last one, with no rows below it, by dense_potrf.hpp's panels on
// the pool from order 256), then the solve of its rows below and the update of the block by them,
// in place over their range or gathered, updated and scattered back, as the plan says. Returns
// LAPACK's info (0, or k > 0 where the leading minor of order k is not positive definite). Bitwise
// the same for every thread count.
int potrf_supernodal(const SupernodePlan& plan, double* a, int lda, int threads);

}  // namespace mm
