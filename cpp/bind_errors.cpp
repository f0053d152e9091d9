// The core's typed exceptions (errors.hpp) as Python classes deriving from mixedmodels.exceptions.CoreError.
#include "bind.hpp"

namespace mm::bind {

void register_errors(py::module_& m) {
    py::object base = py::module_::import("mixedmodels.exceptions").attr("CoreError");
    static py::exception<NotPositiveDefinite> not_pd(m, "NotPositiveDefiniteError", base);
    static py::exception<InvalidInput> invalid(m, "InvalidInputError", base);
    static py::exception<TooLarge> too_large(m, "TooLargeError", base);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const NotPositiveDefinite& e) {
            py::set_error(not_pd, e.what());
        } catch (const InvalidInput& e) {
            py::set_error(invalid, e.what());
        } catch (const TooLarge& e) {
            py::set_error(too_large, e.what());
        }
    });
}

}  // namespace mm::bind
