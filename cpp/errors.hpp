// Typed exceptions of the core; module.cpp translates each to a Python exception class.
#pragma once
#include <stdexcept>
#include <string>

namespace mm {

// The penalised system (or the fixed-effects part of it) is not positive definite.
struct NotPositiveDefinite : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Arrays of the wrong shape, codes out of range, or parameters of the wrong length.
struct InvalidInput : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// A dense block would need more memory than the model allows.
struct TooLarge : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace mm
