# lme4 1.1-31 on a thin Poisson design with random slopes on a covariate far from zero (x near 100):
# 22 rows, (x | g) with 11 levels and (x | h) with 2. Writes glmm_two_paths.json.
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("thin22.csv"); d$g <- factor(d$g); d$h <- factor(d$h)
m <- glmer(y ~ x + (x | g) + (x | h), d, family = poisson)
out <- list(thin22 = list(
  deviance = -2 * as.numeric(logLik(m)),
  theta = unname(getME(m, "theta")),
  fixef = unname(fixef(m)),
  singular = isSingular(m),
  messages = m@optinfo$conv$lme4$messages
))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "glmm_two_paths.json")
