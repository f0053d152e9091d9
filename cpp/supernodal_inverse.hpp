// The selected inverse of a dense diagonal block's supernodal factor (supernodal_inverse.cpp; the
// factor from supernodal_potrf.hpp, the plan from level_order.hpp).
#pragma once

#include "level_order.hpp"

namespace mm {

// Z = (L L')^{-1} on the structure of L (the plan's supernodes and their rows, both triangles) into
// z (n x n, ldz), by Takahashi's recurrences supernode by supernode from the last: with T the
// inverse of a supernode's diagonal block and B = L(R, J) T, Z(R, J) = -Z(R, R) B and
// Z(J, J) = T'T - B'Z(R, J) (Z(R, R) lies on the structure: the rows of a supernode's column form a
// clique of the filled graph). Entries of z off the structure end finite but are not the
// inverse's (a supernode updated over its rows' whole range writes them; its zero rows of L make
// them add nothing where it matters). The last supernode's T and T'T by dense_inverse.hpp's pooled
// kernels; bitwise the same for every thread count. Returns LAPACK's info of a singular diagonal.
int selected_inverse_supernodal(const SupernodePlan& plan, const double* l, int ldl, double* z, int ldz, int threads);

}  // namespace mm
