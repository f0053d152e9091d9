// FactorLayout and Layout (layout.hpp): the model's dimensions and theta map, as the core sees them.
#include <pybind11/stl.h>

#include "bind.hpp"
#include "layout.hpp"

namespace mm::bind {

namespace {

FactorLayout make_factor(int nlev, int k, const iarray& ti, const iarray& tr, const iarray& tc) {
    FactorLayout f;
    f.nlev = nlev;
    f.k = k;
    f.th_idx = ints_of(ti);
    f.th_row = ints_of(tr);
    f.th_col = ints_of(tc);
    return f;
}

}  // namespace

void register_layout(py::module_& m) {
    py::class_<FactorLayout>(m, "FactorLayout",
                             "One grouping factor as the core sees it: its levels, its random-effects columns and "
                             "the entries (theta_row[e], theta_col[e]) of its lower-triangular factor T that "
                             "theta[theta_index[e]] fills.")
        .def(py::init(&make_factor), py::arg("nlev"), py::arg("k"), py::arg("theta_index"), py::arg("theta_row"),
             py::arg("theta_col"))
        .def_readonly("nlev", &FactorLayout::nlev)
        .def_readonly("k", &FactorLayout::k)
        .def_property_readonly("theta_index", [](const FactorLayout& f) { return to_array(f.th_idx); })
        .def_property_readonly("theta_row", [](const FactorLayout& f) { return to_array(f.th_row); })
        .def_property_readonly("theta_col", [](const FactorLayout& f) { return to_array(f.th_col); })
        .def(py::pickle(
            [](const FactorLayout& f) {
                return py::make_tuple(f.nlev, f.k, to_array(f.th_idx), to_array(f.th_row), to_array(f.th_col));
            },
            [](const py::tuple& t) {
                if (t.size() != 5) throw InvalidInput("bad FactorLayout state");
                try {
                    return make_factor(t[0].cast<int>(), t[1].cast<int>(), t[2].cast<iarray>(), t[3].cast<iarray>(),
                                       t[4].cast<iarray>());
                } catch (const py::cast_error& e) {
                    throw InvalidInput(std::string("bad FactorLayout state: ") + e.what());
                }
            }));

    py::class_<Layout, std::shared_ptr<Layout>>(
        m, "Layout", "The grouping factors (engine order: most levels first) and the number of fixed-effects columns.")
        .def(py::init([](std::vector<FactorLayout> factors, int p) {
                 return std::make_shared<Layout>(std::move(factors), p);
             }),
             py::arg("factors"), py::arg("p"))
        .def_property_readonly("factors", &Layout::factors)
        .def_property_readonly("p", &Layout::p)
        .def_property_readonly("ntheta", &Layout::ntheta)
        .def(py::pickle([](const Layout& l) { return py::make_tuple(l.factors(), l.p()); },
                        [](const py::tuple& t) {
                            if (t.size() != 2) throw InvalidInput("bad Layout state");
                            try {
                                return std::make_shared<Layout>(t[0].cast<std::vector<FactorLayout>>(), t[1].cast<int>());
                            } catch (const py::cast_error& e) {
                                throw InvalidInput(std::string("bad Layout state: ") + e.what());
                            }
                        }));
}

}  // namespace mm::bind
