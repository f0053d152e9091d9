# lme4 1.1-31 on a crossed Poisson design (a probe's simulated data, crossed.csv: 240 rows, g 20
# levels, h 6) where our L-BFGS-B had stopped on the face theta_h = 0 (the criterion's slope 0 there)
# and returned a better point it had passed over, unconverged (logLik -615.386). For
# tests/reference/test_glmm_crossed_face.py:
#   cd tests/reference/glmm_crossed_face && Rscript make_glmm_crossed_face.R
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
d <- read.csv("crossed.csv")
m <- glmer(cnt ~ x + f + (1 | g) + (1 | h), d, family = poisson)
out <- list(lme4 = as.character(packageVersion("lme4")), theta = unname(getME(m, "theta")),
            fixef = as.list(fixef(m)), loglik = as.numeric(logLik(m)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "glmm_crossed_face.json")
