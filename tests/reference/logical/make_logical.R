# Expected names and fits of models with a logical predictor, for tests/test_stream_bool.py.
#
#   cd tests/reference/logical && Rscript make_logical.R
#
# writes logical.csv (the data: g a grouping factor, b logical, c a factor, x numeric, y) and
# logical.json: per formula, lme4's fixed-effects names and estimates, the REML criterion, the ML
# deviance (which, unlike REML's, does not depend on the basis of X's column space), and per
# random-effects term its grouping factor, column names and first level names. R's model.matrix
# codes a logical as a factor with levels FALSE, TRUE (the column bTRUE). The tests never run R.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
set.seed(2025)
n <- 600
d <- data.frame(
  g = sprintf("g%02d", sample(1:30, n, TRUE)),
  b = runif(n) < 0.4,
  c = sample(c("a", "b", "c"), n, TRUE),
  x = round(rnorm(n), 6)
)
u <- rnorm(30)
names(u) <- sprintf("g%02d", 1:30)
d$y <- round(u[d$g] + 0.8 * d$b + 0.5 * (d$c == "b") + 0.3 * d$x * d$b + rnorm(n), 6)
write.csv(d, "logical.csv", row.names = FALSE)
d$g <- factor(d$g)
d$c <- factor(d$c)
formulas <- c(
  "y ~ b + (1 | g)",
  "y ~ b:c + (1 | g)",
  "y ~ x:b + (1 | g)",
  "y ~ b * x + (1 | g)",
  "y ~ x + (b | g)",
  "y ~ x + (1 | b)",
  "y ~ x + b + (1 | b:c)"
)
cases <- lapply(formulas, function(f) {
  m <- lmer(as.formula(f), d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  re <- ranef(m)
  list(
    formula = f,
    fixef_names = I(names(fixef(m))),
    fixef = I(unname(fixef(m))),
    reml_criterion = unname(REMLcrit(m)),
    ml_deviance = unname(deviance(refitML(m))),  # invariant to how X's columns span their space
    random = lapply(names(re), function(g) list(
      group = g, columns = I(colnames(re[[g]])), levels = I(head(rownames(re[[g]]), 4))
    ))
  )
})
out <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")), cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "logical.json")
