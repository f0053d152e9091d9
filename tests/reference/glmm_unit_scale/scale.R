# lme4's fits of the data of tests/test_glmer_unit_scale.py (_counts), for the numbers quoted there
suppressPackageStartupMessages(library(lme4))
d <- read.csv("counts.csv")  # written by tests/test_glmer_unit_scale.py::_counts
ctl <- glmerControl(tolPwrss = 1e-12)
show <- function(label, m) {
  if (is.null(m)) return(invisible())
  cat(label, sprintf("%.10f", logLik(m)), sprintf("%.8f", sqrt(diag(vcov(m)))), "\n")
}
safe <- function(expr) tryCatch(expr, error = function(e) { cat("ERROR", conditionMessage(e), "\n"); NULL })
show("poisson (1 + x | g)", glmer(cnt ~ x + (1 + x | g), d, family = poisson, control = ctl))
show("poisson (1 | g)", glmer(cnt ~ x + (1 | g), d, family = poisson, control = ctl))
show("binomial (1 + x | g)", glmer(bin ~ x + (1 + x | g), d, family = binomial, control = ctl))
show("binomial (1 | g)", glmer(bin ~ x + (1 | g), d, family = binomial, control = ctl))
d$xs <- d$x + 1000
show("binomial xs = x + 1000, (1 | g)", safe(glmer(bin ~ xs + (1 | g), d, family = binomial)))
show("poisson xs = x + 1000, (1 + xs | g)", safe(glmer(cnt ~ xs + (1 + xs | g), d, family = poisson)))
d$xs <- d$x * 1e4
show("poisson xs = x * 1e4, (1 + xs | g)", safe(glmer(cnt ~ xs + (1 + xs | g), d, family = poisson)))
