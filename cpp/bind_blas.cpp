// BLAS/LAPACK function pointers from the capsules scipy exports (blas.hpp); loaded once, at import.
#include <memory>

#include "bind.hpp"
#include "blas.hpp"

namespace mm::bind {

namespace {

template <typename T>
T capsule_pointer(const py::object& capi, const char* name) {
    py::object cap = capi[py::str(name)];
    void* ptr = PyCapsule_GetPointer(cap.ptr(), PyCapsule_GetName(cap.ptr()));
    if (!ptr) throw py::error_already_set();
    return reinterpret_cast<T>(ptr);
}

// A with-block holding BLAS to one thread (blas::SingleThreaded) while Python code that calls BLAS
// on tiny matrices runs (SciPy's L-BFGS-B: OpenBLAS's threads only spin on them).
struct OneThread {
    std::unique_ptr<blas::SingleThreaded> guard;
};

}  // namespace

void register_blas(py::module_& m) {
    m.def(
        "load_blas_threads", [](const std::string& path) { return blas::load_thread_control(path); },
        py::arg("path"),
        "Find OpenBLAS's thread control in the library at path (already loaded by scipy): '' when found, else "
        "why not. The core then runs BLAS on one thread while it factors.");
    m.def(
        "blas_threads",
        []() {
            const blas::ThreadStats s = blas::thread_stats();
            return py::make_tuple(s.loaded, s.threads, s.pinned_calls, s.most_inside);
        },
        "(thread control found, BLAS's thread count now, factorisations run pinned to one thread, the largest "
        "thread count seen while pinned).");
    py::class_<OneThread>(m, "BlasOneThread",
                          "A context manager: inside its with-block BLAS runs on one thread (OpenBLAS's thread "
                          "count, restored when the last overlapping block ends; nothing without the thread "
                          "control, see load_blas_threads).")
        .def(py::init<>())
        .def(
            "__enter__",
            [](OneThread& o) -> OneThread& {
                if (!o.guard) o.guard = std::make_unique<blas::SingleThreaded>(true);
                return o;
            },
            py::return_value_policy::reference)
        .def(
            "__exit__",
            [](OneThread& o, const py::object&, const py::object&, const py::object&) {
                o.guard.reset();
                return false;
            },
            py::arg("exc_type"), py::arg("exc_value"), py::arg("traceback"));
    py::object b = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
    py::object l = py::module_::import("scipy.linalg.cython_lapack").attr("__pyx_capi__");
    blas::fn.dgemm = capsule_pointer<blas::dgemm_t>(b, "dgemm");
    blas::fn.dsyrk = capsule_pointer<blas::dsyrk_t>(b, "dsyrk");
    blas::fn.dtrsm = capsule_pointer<blas::dtrsm_t>(b, "dtrsm");
    blas::fn.dgemv = capsule_pointer<blas::dgemv_t>(b, "dgemv");
    blas::fn.dtrmm = capsule_pointer<blas::dtrmm_t>(b, "dtrmm");
    blas::fn.dpotrf = capsule_pointer<blas::dpotrf_t>(l, "dpotrf");
    blas::fn.dtrtri = capsule_pointer<blas::dtrtri_t>(l, "dtrtri");
    blas::fn.dlauum = capsule_pointer<blas::dlauum_t>(l, "dlauum");
}

}  // namespace mm::bind
