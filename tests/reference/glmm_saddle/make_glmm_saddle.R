## lme4 1.1-31's glmer on four small binary random-slope designs where mixedmodels' stage 2 had stopped at
## a point that is a minimum of the deviance in theta's (Cholesky) coordinates but not over the covariance
## matrices (a saddle: glmm.GeneralizedLinearMixedModel._saddle_start), and reported it converged, up to
## 0.14 below lme4's log-likelihood. seedN.csv: y ~ x + (1 + x | g), from the adversarial pass's random
## design generator (numpy default_rng(N)). For tests/reference/test_glmm_saddle.py.
## Run: Rscript make_glmm_saddle.R  (writes glmm_saddle.json here)
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
here <- tryCatch(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) ".")
out <- list()
for (s in c(200, 324, 372, 540)) {
  d <- read.csv(file.path(here, sprintf("seed%d.csv", s)))
  m <- glmer(y ~ x + (1 + x | g), data = d, family = binomial)
  out[[sprintf("seed%d", s)]] <- list(logLik = as.numeric(logLik(m)), theta = unname(getME(m, "theta")),
                                      fixef = as.list(fixef(m)), nobs = nrow(d),
                                      conv_messages = m@optinfo$conv$lme4$messages)
}
out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "glmm_saddle.json"))
